"""`rain-vtuber render`: animate a character offline from pose images or a face video.

Examples:
    rain-vtuber render --reference me.png --poses poses/ --out clip.mp4
    rain-vtuber render --character default --faces talk.mp4 --out frames/
    rain-vtuber render --weights ./tiny --engine-config ./tiny/config.yaml --reference ref.png --poses pose.mp4 -o out.mp4
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Iterator, Optional

import cv2
import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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


def _face_frames(path: Path, face_model: Path, calibration: Path,
                 size: tuple[int, int]) -> tuple[Iterator[np.ndarray], int]:
    """A face video / image folder through the tracker and the character's calibration."""
    from rain_vtuber.landmarks import PoseRenderer, load_calibration
    from rain_vtuber.sources import SourceConfig, open_source

    kind = recorded_kind(path)
    source = open_source(SourceConfig(kind=kind, path=path, face_model=face_model))
    renderer = PoseRenderer(load_calibration(calibration), height=size[0], width=size[1])
    if kind == "video":
        capture = cv2.VideoCapture(str(path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
    else:
        count = len(source.image_paths())  # type: ignore[attr-defined]
    return (renderer.render(tracked.face) for tracked in source.iter_tracked()), count


class _Writer:
    """An mp4 file or a folder of numbered PNGs."""

    def __init__(self, out: Path, fps: float):
        self.out, self.fps, self.count = out, fps, 0
        self.video: cv2.VideoWriter | None = None
        if out.suffix.lower() not in VIDEO_SUFFIXES:
            out.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if self.out.suffix.lower() in VIDEO_SUFFIXES:
            if self.video is None:
                self.out.parent.mkdir(parents=True, exist_ok=True)
                self.video = cv2.VideoWriter(str(self.out), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, bgr.shape[1::-1])
            self.video.write(bgr)
        elif not cv2.imwrite(str(self.out / f"frame_{self.count:05d}.png"), bgr):
            raise RainError(f"cannot write into {self.out}")
        self.count += 1

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


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
    fps: Annotated[float, typer.Option("--fps", help="Frame rate of an mp4 output.")] = 16.0,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Noise seed (default: the config's).")] = None,
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
    frames, total = _face_frames(faces, face_model, calibration, size) if faces is not None else _pose_frames(poses, size)  # type: ignore[arg-type]
    engine.set_reference(engine.fuse_reference(image))
    writer = _Writer(out, fps)
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("render", total=total or None)
            for frame in render_stream(engine, frames):
                writer.write(frame)
                progress.advance(task)
    finally:
        writer.close()
    console.print(f"wrote {writer.count} frames to {out}")
