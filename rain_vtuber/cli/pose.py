"""`rain-vtuber pose`: check tracking without a GPU: the landmark image RAIN would see, next to the tracked points.

Examples:
    rain-vtuber pose me.jpg --out poses/              # pose_00000.png + overlay_00000.png, face fitted
    rain-vtuber pose me.jpg --out poses/ --no-auto-fit  # the face where and as big as it is in the photo
    rain-vtuber pose talk.mp4 --out talk_pose.mp4     # tracked frame | pose image, side by side
    rain-vtuber pose                                  # live webcam in a window (q or Esc to quit)
    rain-vtuber pose --source vmc --calibration calibration/alice.yaml
    rain-vtuber pose --bench                          # per-frame cost of face -> pose image
    rain-vtuber pose me.jpg --out poses/ --json       # plus one JSON line per frame: points, blend shapes
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import cv2
import numpy as np
import typer

from rain_vtuber.cli.common import FaceModelOpt, console
from rain_vtuber.errors import RainError
from rain_vtuber.face.state import FaceState, TrackingState
from rain_vtuber.landmarks import Calibration, PoseRenderer, load_calibration
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.landmarks.overlay import draw_tracked_points
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
    """Where frames go: a PNG folder, an mp4 file and/or a window. write() says whether to go on."""

    def __init__(self, out: Path | None, show: bool, fps: float) -> None:
        self.out, self.show, self.fps = out, show, fps
        self.count = 0
        self._video: cv2.VideoWriter | None = None
        if out is not None and out.suffix.lower() not in VIDEO_SUFFIXES:
            out.mkdir(parents=True, exist_ok=True)

    def write(self, pose: np.ndarray, panel: np.ndarray | None) -> bool:
        both = pose if panel is None else np.concatenate([panel, pose], axis=1)
        if self.out is not None and self.out.suffix.lower() in VIDEO_SUFFIXES:
            self._video_writer(both).write(cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
        elif self.out is not None:
            _write_png(self.out / f"pose_{self.count:05d}.png", pose)
            if panel is not None:
                _write_png(self.out / f"overlay_{self.count:05d}.png", panel)
        self.count += 1
        if self.show:
            cv2.imshow("rain-vtuber pose", cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
            return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)
        return True

    def _video_writer(self, frame: np.ndarray) -> cv2.VideoWriter:
        if self._video is None:
            assert self.out is not None
            self.out.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame.shape[:2]
            self._video = cv2.VideoWriter(str(self.out), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._video.isOpened():
                raise RainError(f"cannot write video {self.out}; write PNGs instead with --out <folder>")
        return self._video

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
        if self.show:
            cv2.destroyAllWindows()


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise RainError(f"cannot write {path}; check the folder is writable")


def _recorded(source: FrameSource, fps: float) -> Iterator[tuple[np.ndarray, FaceState | None, int]]:
    """Every frame of a file source with its face, stamped on the file's own clock (1/fps apart)."""
    for i, tracked in enumerate(source.iter_tracked()):
        t_ns = int(i * 1e9 / fps)
        face = None if tracked.face is None else dataclasses.replace(tracked.face, timestamp_ns=t_ns)
        yield tracked.image, face, t_ns


def face_report(index: int, face: FaceState | None) -> str:
    """One JSON line about a frame's face: valid points, head angles and blend shapes (for scripts)."""
    if face is None:
        return json.dumps({"frame": index, "face": False})
    return json.dumps({
        "frame": index, "face": True, "valid_points": int(face.valid.sum()),
        "rotation": face.rotation, "expressions": {k: round(float(v), 4) for k, v in face.expressions.items()},
    })


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
    src = open_source(cfg)
    clock = {"now": 0}
    renderer = PoseRenderer(calib, size, size, clock=lambda: clock["now"])
    sink = _Sink(out, show, fps)
    stream = _recorded(src, fps) if input is not None else _live(src, fps)  # type: ignore[arg-type]
    if input is None:
        src.start()
        console.print(f"live from {src.name} ({kind}); q or Esc in the window, or Ctrl-C, to stop")
    try:
        for frame, face, now_ns in stream:
            clock["now"] = now_ns
            if recenter and face is not None:
                recenter = not renderer.recenter(face)
            image = renderer.render(face)
            if report:
                typer.echo(face_report(sink.count, face))
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
    if out is not None:
        console.print(f"wrote {sink.count} frame(s) to {out}")
    if renderer.calibration.framing.auto_fit and renderer.fit is None:
        console.print("auto-fit: no steady second of tracking, so the face was drawn where and as big as tracked")
