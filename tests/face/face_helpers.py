"""Helpers for the face tests: a simulated 30 fps clock, rig faces, and the 26 dots the real renderer draws."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.driver import FaceDriver
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import PoseRenderer
from rain_vtuber.landmarks.dots import group_centers, group_pixels
from rain_vtuber.landmarks.transforms import apply_translations, build_translations

FPS = 30
PERIOD_NS = 1_000_000_000 // FPS
T0 = 7_000_000_000_000
"""Simulated monotonic clock start (any value: nothing reads the wall clock)."""
SIZE = 512
EYE_DOTS = np.arange(16, 26)
"""0-based indices of the 10 eye dots among the 26 (spec groups 17-26)."""


def frame_time(index: int) -> int:
    return T0 + index * PERIOD_NS


def rig_face(
    shapes: Mapping[str, float] | None = None,
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
    translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    t_ns: int = T0,
    source: str = "vmc:39539",
) -> FaceState:
    """A face as a VMC / iFacialMocap source publishes it (the rig's projection), stamped t_ns."""
    face = rig.face_from_blend_shapes(dict(shapes or {}), rotation, None, translation_m, source)
    return dataclasses.replace(face, timestamp_ns=t_ns)


def dots(renderer: PoseRenderer) -> np.ndarray:
    """(26, 2) float pixel positions of the dots of the renderer's last image (what render_points draws)."""
    points = apply_translations(renderer.last_points, build_translations(renderer.calibration.shape))
    return group_pixels(group_centers(points), renderer.height, renderer.width).astype(np.float64)


@dataclass
class Frame:
    index: int
    tracked: bool
    face: FaceState | None
    dots: np.ndarray


def run(driver: FaceDriver, renderer: PoseRenderer, frames: int, source: Callable[[int, int], FaceState | None],
        start: int = 0) -> list[Frame]:
    """Sample `frames` frames at 30 fps: source(index, t_ns) -> driver -> the real renderer's 26 dots."""
    out = []
    for index in range(start, start + frames):
        t_ns = frame_time(index)
        tracked = source(index, t_ns)
        face = driver.drive(tracked, t_ns, None)
        renderer.render(face)
        out.append(Frame(index, tracked is not None, face, dots(renderer)))
    return out


def max_step(frames: list[Frame], which: np.ndarray | slice = slice(None)) -> float:
    """Largest per-frame displacement of any selected dot, in pixels."""
    return max(float(np.abs(b.dots[which] - a.dots[which]).max()) for a, b in zip(frames, frames[1:]))
