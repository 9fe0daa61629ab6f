"""`rain-vtuber pose`: check tracking without a GPU: the landmark image RAIN would see, next to the tracked points.

Examples:
    rain-vtuber pose me.jpg --out poses/              # pose_00000.png + overlay_00000.png, face fitted
    rain-vtuber pose me.jpg --out poses/ --no-auto-fit  # the face where and as big as it is in the photo
    rain-vtuber pose talk.mp4 --out talk_pose.mp4     # tracked frame | pose image, side by side
    rain-vtuber pose                                  # live webcam in a window (q or Esc to quit)
    rain-vtuber pose --source vmc --calibration calibration/alice.yaml
    rain-vtuber pose --bench                          # per-frame cost of face -> pose image
    rain-vtuber pose me.jpg --out poses/ --json       # plus one JSON line per frame: points, blend shapes
    rain-vtuber pose talk.mp4 --audio talk.wav --json --out poses/  # the mouth from the sound, frame by frame
    rain-vtuber pose me.jpg --expression wink_left --out poses/      # one named expression, fully shown
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Optional

import cv2
import numpy as np
import typer

from rain_vtuber.audio import AudioCalibration, AudioSettings, analyse_file, open_lipsync
from rain_vtuber.cli.common import AudioOpt, FaceModelOpt, console
from rain_vtuber.errors import RainError
from rain_vtuber.face import FaceDriver, IdleOptions, Mouth
from rain_vtuber.face.state import FaceState, TrackingState
from rain_vtuber.landmarks import Calibration, PoseRenderer, load_calibration
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.landmarks.overlay import draw_tracked_points
from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.files import FileOutput, FileSettings
from rain_vtuber.sources.video import VIDEO_SUFFIXES, recorded_kind

if TYPE_CHECKING:
    from rain_vtuber.sources import FaceSource
    from rain_vtuber.sources.frames import FrameSource

LIVE_KINDS = ("webcam", "screen", "ifacialmocap", "vmc")


def has_display() -> bool:
    """Whether cv2.imshow can open a window here."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _calibration(path: Path | None, exact: bool, auto_fit: bool | None) -> Calibration:
    if path is None:  # the default character's, where the daemon would find it
        path = CharacterLibrary().saved_calibration("default")
    calib = load_calibration(path) if path is not None else Calibration()
    if exact:
        return Calibration.exact(calib.shape)
    if auto_fit is None:
        return calib
    return calib.model_copy(update={"framing": calib.framing.model_copy(update={"auto_fit": auto_fit})})


class _Sink:
    """Where frames go: PNGs in a folder (pose_*, overlay_*) or one video (tracked frame | pose), and/or a window."""

    def __init__(self, out: Path | None, show: bool, fps: float, size: int, overlay: bool) -> None:
        self.show, self.count = show, 0
        self._files: list[FileOutput] = []
        if out is not None:
            rate = FrameRate.nearest(fps)
            if out.suffix.lower() in VIDEO_SUFFIXES:
                self._files = [FileOutput(FileSettings(path=out), size * (2 if overlay else 1), size, rate)]
            else:
                prefixes = ("pose", "overlay") if overlay else ("pose",)
                self._files = [FileOutput(FileSettings(path=out, prefix=p), size, size, rate) for p in prefixes]
        for file in self._files:
            file.open()

    def write(self, pose: np.ndarray, panel: np.ndarray | None) -> bool:
        both = pose if panel is None else np.concatenate([panel, pose], axis=1)
        if len(self._files) == 1 and self._files[0].is_video:
            self._files[0].write(OutputFrame.opaque(both, self.count))
        else:
            for file, image in zip(self._files, (pose, panel)):
                file.write(OutputFrame.opaque(image, self.count))
        self.count += 1
        if self.show:
            cv2.imshow("rain-vtuber pose", cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
            return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)
        return True

    def close(self) -> None:
        for file in self._files:
            file.close()
        if self.show:
            cv2.destroyAllWindows()


def _recorded(source: FrameSource, fps: float) -> Iterator[tuple[np.ndarray, FaceState | None, int]]:
    """Every frame of a file source with its face, stamped on the file's own clock (1/fps apart)."""
    for i, tracked in enumerate(source.iter_tracked()):
        t_ns = int(i * 1e9 / fps)
        face = None if tracked.face is None else dataclasses.replace(tracked.face, timestamp_ns=t_ns)
        yield tracked.image, face, t_ns


def _file_rate(path: Path, kind: str, fps: float) -> float:
    """The clock of a recording: a video's own frame rate (its sound goes with it), else --fps."""
    if kind != "video":
        return fps
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return rate if rate and rate > 0 else fps


def face_report(index: int, face: FaceState | None, mouth: Mouth | None = None) -> str:
    """One JSON line about a frame's face: valid points, head angles and blend shapes (for scripts),
    and with --audio the sound's mouth (open, wide, round) that went into it."""
    heard = {} if mouth is None else {"mouth": {k: round(v, 4) for k, v in dataclasses.asdict(mouth).items()}}
    if face is None:
        return json.dumps({"frame": index, "face": False, **heard})
    return json.dumps({
        "frame": index, "face": True, "valid_points": int(face.valid.sum()),
        "rotation": face.rotation, "expressions": {k: round(float(v), 4) for k, v in face.expressions.items()},
        **heard,
    })


def _sound(settings: AudioSettings | None, calibration: AudioCalibration, recorded: bool) -> tuple[Callable[[int], Mouth | None], Any]:
    """(captured ns -> the sound's mouth, what to stop at the end): a recording's sound on its own clock
    (frame i at i / fps), or a live microphone on the monotonic clock."""
    if settings is None:
        return (lambda captured: None), None
    if recorded:
        if settings.input_file is None:
            raise RainError("--audio with a recorded INPUT must be its sound file (WAV/FLAC), not a microphone")
        track = analyse_file(settings.input_file, calibration, settings)
        return (lambda captured: track.at(captured / 1e9)), None
    lipsync = open_lipsync(settings, calibration)
    assert lipsync is not None
    return (lambda captured: lipsync.mouth_at(lipsync.heard_at(captured, time.monotonic_ns()))), lipsync


def _live(source: FaceSource, fps: float) -> Iterator[tuple[np.ndarray | None, FaceState | None, int]]:
    """Poll a started source at `fps` until interrupted; a failed source ends it with its error."""
    period = 1.0 / fps
    while True:
        start = time.monotonic()
        if source.state is TrackingState.ERROR:
            raise RainError(f"source {source.name} failed: {source.error}")
        frame = source.latest_frame() if hasattr(source, "latest_frame") else None
        yield frame, source.latest(), time.monotonic_ns()
        time.sleep(max(0.0, period - (time.monotonic() - start)))


def pose(
    input: Annotated[
        Optional[Path], typer.Argument(help="Image, video or folder of images; omit for a live source.")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Live source without INPUT: " + ", ".join(LIVE_KINDS))
    ] = "webcam",
    camera: Annotated[Optional[int], typer.Option("--camera", help="Webcam index (default 0).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="UDP port for ifacialmocap / vmc.")] = None,
    calibration: Annotated[
        Optional[Path],
        typer.Option("--calibration", help="calibration/<name>.yaml (default: the default character's)."),
    ] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Spec path only: no framing, expressions or filter.")] = False,
    auto_fit: Annotated[
        Optional[bool],
        typer.Option(
            "--auto-fit/--no-auto-fit",
            help="Fit your neutral position and size to the character's face (default: the calibration's "
            "framing.auto_fit, on unless set off).",
        ),
    ] = None,
    recenter: Annotated[
        bool,
        typer.Option(
            "--recenter",
            help="Take the first tracked face as neutral at once instead of the first steady second "
            "(always so for a single image).",
        ),
    ] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for PNGs, or a .mp4 file.")] = None,
    show: Annotated[Optional[bool], typer.Option("--show/--no-show", help="Window (default: when no --out).")] = None,
    overlay: Annotated[bool, typer.Option("--overlay/--no-overlay", help="Tracked points on the input.")] = True,
    size: Annotated[int, typer.Option("--size", min=64, max=2048, help="Pose image size (model resolution).")] = 512,
    fps: Annotated[
        float, typer.Option("--fps", min=1.0, max=240.0, help="Frame rate of files and of live polling.")
    ] = 30.0,
    frames: Annotated[
        Optional[int], typer.Option("--frames", min=1, help="Stop after this many frames (--bench: frames to time).")
    ] = None,
    bench: Annotated[bool, typer.Option("--bench", help="Measure the per-frame render cost and exit.")] = False,
    face_model: FaceModelOpt = None,
    report: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per frame: valid points, head angles, blend shapes.")
    ] = False,
    audio: AudioOpt = None,
    audio_mode: Annotated[
        Optional[str], typer.Option("--audio-mode", help="How the sound meets the tracked mouth: when_lost, blend, always.")
    ] = None,
    expression: Annotated[
        Optional[list[str]], typer.Option("--expression", help="Show this named expression (repeatable): smile, wink_left, ...")
    ] = None,
) -> None:
    """Render the 26-dot landmark image (and the tracked points) for an image, a video, a folder or live."""
    if bench:
        from rain_vtuber.landmarks.bench import benchmark_render

        console.print(str(benchmark_render(frames=frames or 2000, height=size, width=size)))
        return
    from rain_vtuber.sources import KIND_KEYS, open_source, source_config  # mediapipe etc. load only when needed

    if show is None:
        show = out is None
    if show and not has_display():
        raise RainError("no display to show a window on; write files instead with --out <folder or .mp4>")
    if input is None and source not in LIVE_KINDS:
        raise RainError(f"--source must be one of {', '.join(LIVE_KINDS)}; for files pass the path as INPUT")
    if input is not None and not input.exists():
        raise RainError(f"{input} does not exist; pass an image, a video or a folder of images")
    calib = _calibration(calibration, exact, auto_fit)
    kind = recorded_kind(input) if input is not None else source
    recenter = recenter or (kind == "image" and calib.framing.auto_fit)  # one frame: no steady second
    given = {"path": input, "camera": camera, "port": port, "face_model": face_model}
    playback = {"fps": fps} if "fps" in KIND_KEYS[kind] else {}  # otherwise --fps is only the polling rate
    cfg = source_config({"kind": kind, **playback, **{k: v for k, v in given.items() if v is not None}})
    cfg = cfg.model_copy(update=calib.source.overrides())
    if audio_mode is not None and audio is None:
        raise RainError("--audio-mode needs --audio (a sound file, or a microphone for a live source)")
    settings = None if audio is None else AudioSettings.from_flag(audio, **({"mode": audio_mode} if audio_mode else {}))
    mouth_for, lipsync = _sound(settings, calib.audio, recorded=input is not None)
    driver = FaceDriver(IdleOptions(enabled=False), audio_mode=settings.mode if settings else "off")
    for name in expression or []:
        driver.expressions.hold(name)  # shown fully from the first frame: an offline check of one expression
    src = open_source(cfg)
    clock = {"now": 0}
    renderer = PoseRenderer(calib, size, size, clock=lambda: clock["now"])
    sink = _Sink(out, show, fps, size, overlay)
    stream = _recorded(src, _file_rate(input, kind, fps)) if input is not None else _live(src, fps)  # type: ignore[arg-type]
    if input is None:
        src.start()
        console.print(f"live from {src.name} ({kind}); q or Esc in the window, or Ctrl-C, to stop")
    try:
        for frame, face, now_ns in stream:
            clock["now"] = now_ns
            if recenter and face is not None:
                recenter = not renderer.recenter(face)
            mouth = mouth_for(now_ns if face is None else face.timestamp_ns)
            image = renderer.render(face if exact else driver.drive(face, now_ns, mouth))
            if report:
                typer.echo(face_report(sink.count, face, mouth))
            status = "no face" if input is not None else src.state.value
            label = f"{src.name}: {'face' if face is not None else status}"
            panel = draw_tracked_points(frame, face, size, label) if overlay else None
            if not sink.write(image, panel) or (frames is not None and sink.count >= frames):
                break
    except KeyboardInterrupt:
        pass
    finally:
        src.stop()
        sink.close()
        if lipsync is not None:
            lipsync.stop()
    if out is not None:
        console.print(f"wrote {sink.count} frame(s) to {out}")
    if renderer.calibration.framing.auto_fit and renderer.fit is None:
        console.print("auto-fit: no steady second of tracking, so the face was drawn where and as big as tracked")
