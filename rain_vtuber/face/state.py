"""FaceState: what every face source publishes, whatever tracked the face."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


class TrackingState(str, enum.Enum):
    """What a source reports about itself (shown by `/rain/status` and `rain-vtuber pose`)."""

    WAITING = "waiting"  # started, nothing received yet
    TRACKING = "tracking"  # faces arrive
    LOST = "lost"  # data stopped or no face in view
    ERROR = "error"  # the source failed (camera gone, port in use, ...)


@dataclass(frozen=True)
class FaceState:
    """One tracked face at one instant.

    points: (68, 2) float64, iBUG-68 order, x / W and y / H of the square tracked frame.
    valid: (68,) bool, False where the tracker has no estimate for that point.
    rotation: head (pitch, yaw, roll) in degrees, camera-facing frame; None if unknown.
      Positive yaw turns the face towards the image's left, positive pitch looks down,
      positive roll tilts the head clockwise in the image.
    position: head position (x, y, z) in metres relative to the tracker, None if unknown.
    expressions: ARKit blend-shape names (camelCase, e.g. "eyeBlinkLeft", "jawOpen") -> 0..1.
    timestamp_ns: time.monotonic_ns() when the source produced it.
    synthetic: True when no tracker measured this face at this instant (idle life, or a blend with
      it; face/driver.py): auto-fit never learns from it.
    """

    points: np.ndarray
    valid: np.ndarray
    rotation: tuple[float, float, float] | None = None
    position: tuple[float, float, float] | None = None
    expressions: Mapping[str, float] = field(default_factory=dict)
    timestamp_ns: int = field(default_factory=time.monotonic_ns)
    source: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        if self.points.shape != (68, 2):
            raise ValueError(f"FaceState.points must be (68, 2), got {self.points.shape}")
        if self.valid.shape != (68,):
            raise ValueError(f"FaceState.valid must be (68,), got {self.valid.shape}")
