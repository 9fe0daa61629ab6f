"""`rain-vtuber render`: animate a character offline from pose images or a face video.

Examples:
    rain-vtuber render --reference me.png --poses poses/ --out clip.mp4
    rain-vtuber render --character default --faces talk.mp4 --out frames/
    rain-vtuber render --weights ./tiny --engine-config ./tiny/config.yaml --reference ref.png --poses pose.mp4 -o out.mp4
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Iterator, Optional

import cv2
import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rain_vtuber.audio import AudioSettings
from rain_vtuber.cli.common import (
    BackendOpt,
    DeviceOpt,
    DtypeOpt,
    EngineConfigOpt,
    FaceModelOpt,
    LatencyOpt,
    OldEngineConfigOpt,
    OutOpt,
    WeightsOpt,
    console,
    engine_config_flag,
)
from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.files import FileOutput, FileSettings
from rain_vtuber.sources.video import VIDEO_SUFFIXES, image_files, read_rgb, recorded_kind


def _read_rgb(path: Path) -> np.ndarray:
    image = read_rgb(path)
    if image is None:
        raise RainError(f"cannot read image {path}")
    return image


def _pose_frames(path: Path, size: tuple[int, int]) -> tuple[Iterator[np.ndarray], int]:
    """Landmark images from a folder (sorted) or a video, resized (nearest) to the engine size."""
    h, w = size
    fit = lambda img: img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    if path.is_dir():
        files = image_files(path, "pose images")
        return (fit(_read_rgb(p)) for p in files), len(files)
    if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
        raise RainError(f"--poses must be a folder of images or a video file, got {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise RainError(f"cannot open video {path}")
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def frames() -> Iterator[np.ndarray]:
        try:
            while (ok := capture.read())[0]:
                yield fit(cv2.cvtColor(ok[1], cv2.COLOR_BGR2RGB))
        finally:
            capture.release()

    return frames(), count


def _face_frames(path: Path, face_model: Path, calibration: Path, size: tuple[int, int], fps: float,
                 sound: AudioSettings | None) -> tuple[Iterator[np.ndarray], int]:
    """A face video / image folder through the tracker, the sound's mouth (on the video's own clock:
    frame i at i / its fps) and the character's calibration."""
    from rain_vtuber.audio import analyse_file
    from rain_vtuber.face import FaceDriver, IdleOptions
    from rain_vtuber.landmarks import PoseRenderer, load_calibration
    from rain_vtuber.sources import SourceConfig, open_source

    kind = recorded_kind(path)
    source = open_source(SourceConfig(kind=kind, path=path, face_model=face_model))
    calib = load_calibration(calibration)
    if kind == "video":
        capture = cv2.VideoCapture(str(path))
        count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS) or fps
        capture.release()
    else:
        count = len(source.image_paths())  # type: ignore[attr-defined]
    track = None if sound is None else analyse_file(sound.input_file, calib.audio, sound)  # type: ignore[arg-type]
    driver = FaceDriver(IdleOptions(enabled=False), audio_mode=sound.mode if sound is not None else "off")
    now = {"ns": 0}
    renderer = PoseRenderer(calib, height=size[0], width=size[1], clock=lambda: now["ns"])

    def poses() -> Iterator[np.ndarray]:
        for index, tracked in enumerate(source.iter_tracked()):
            now["ns"] = int(index * 1e9 / fps)
            face = None if tracked.face is None else dataclasses.replace(tracked.face, timestamp_ns=now["ns"])
            mouth = None if track is None else track.at(index / fps)
            yield renderer.render(driver.drive(face, now["ns"], mouth))

    return poses(), count


def render(
    out: OutOpt,
    poses: Annotated[Optional[Path], typer.Option("--poses", help="Folder of pose images or a pose video.")] = None,
    faces: Annotated[Optional[Path], typer.Option("--faces", help="Face video, image or folder, tracked with mediapipe.")] = None,
    face_model: FaceModelOpt = None,
    reference: Annotated[Optional[Path], typer.Option("--reference", help="Character reference image.")] = None,
    character: Annotated[
        Optional[str], typer.Option("--character", help="Character name, found as the daemon finds it (image + calibration).")
    ] = None,
    weights: WeightsOpt = None,
    engine_config: EngineConfigOpt = None,
    config: OldEngineConfigOpt = None,
    device: DeviceOpt = "cpu",
    dtype: DtypeOpt = "fp32",
    decoder: Annotated[str, typer.Option("--decoder", help="taesdv (real-time) or vae (quality).")] = "taesdv",
    backend: BackendOpt = "auto",
    latency: LatencyOpt = "standard",
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of an mp4 output (and of a --faces image folder).")] = 16.0,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Noise seed (default: the config's).")] = None,
    audio: Annotated[
        Optional[Path], typer.Option("--audio", help="The --faces recording's sound (WAV/FLAC): lip sync on its own clock.")
    ] = None,
    audio_mode: Annotated[
        Optional[str], typer.Option("--audio-mode", help="How the sound meets the tracked mouth: when_lost, blend, always.")
    ] = None,
) -> None:
    """Render a clip offline: pose images (or a face video) + a character image -> frames."""
    from rain_vtuber.engine import RainEngine
    from rain_vtuber.engine.offline import render_stream
    from rain_vtuber.landmarks.characters import load_picture
    from rain_vtuber.landmarks.library import CharacterLibrary
    from rain_vtuber.landmarks.picture import read_picture
    from rain_vtuber.sources.face_model import resolve_face_model
    from rain_vtuber.weights import default_weights_dir

    if (poses is None) == (faces is None):
        raise RainError("give exactly one of --poses (landmark images) or --faces (a face video / images)")
    if (reference is None) == (character is None):
        raise RainError("give exactly one of --reference IMAGE or --character NAME")
    if decoder not in ("taesdv", "vae"):
        raise RainError(f"--decoder must be taesdv or vae, got {decoder!r}")
    if (audio is not None or audio_mode is not None) and faces is None:
        raise RainError("--audio goes with --faces (the face recording whose sound it is)")
    if audio is not None and not audio.is_file():
        raise RainError(f"--audio {audio}: no such sound file")
    sound = None if audio is None else AudioSettings.from_flag(str(audio), **({"mode": audio_mode} if audio_mode else {}))
    library = CharacterLibrary()
    calibration = library.saved_calibration(character or "default")
    if character is not None:
        found = library.find(character)
        if found is None:
            raise RainError(f"character {character!r} not found in {library.describe()}; create it with `rain-vtuber calibrate`")
        image, _ = load_picture(found)
    else:
        image = read_picture(reference)  # type: ignore[arg-type]
    if faces is not None:  # before the slow engine load
        if calibration is None:
            raise RainError(f"--faces needs a calibration: calibration/{character or 'default'}.yaml not found (run `rain-vtuber calibrate`)")
        face_model = resolve_face_model(face_model, weights)
    config = engine_config_flag(engine_config, config)
    engine = RainEngine.load(weights or default_weights_dir(), config, device=device, dtype=dtype,
                             decoder=decoder, seed=seed, backend=backend, latency=latency or "standard")  # type: ignore[arg-type]
    size = (engine.height, engine.width)
    frames, total = _face_frames(faces, face_model, calibration, size, fps, sound) if faces is not None else _pose_frames(poses, size)  # type: ignore[arg-type]
    engine.set_reference(engine.fuse_reference(image))
    writer = FileOutput(FileSettings(path=out), engine.width, engine.height, FrameRate.nearest(fps))
    writer.open()
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("render", total=total or None)
            for index, frame in enumerate(render_stream(engine, frames)):
                writer.write(OutputFrame.opaque(frame, index))
                progress.advance(task)
    finally:
        writer.close()
    console.print(f"wrote {writer.count} frames to {out}")
