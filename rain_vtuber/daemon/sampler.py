"""Sampler stage: once per output period, the newest face -> its pose image; groups of them -> the engine.

RAIN takes poses in groups (4 per step in the release). The sampler collects one group and hands it
to the engine worker through a one-item Slot: a group the engine has not taken yet is replaced by
the newer one (counted as dropped), so a slow engine never builds a queue. Each pose carries the
capture time of its face and the time it was drawn, for the latency figures.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer
from rain_vtuber.sources import FaceSource
from rain_vtuber.utils.clock import Ticker
from rain_vtuber.utils.ratelimit import RateLimitedLog
from rain_vtuber.utils.slot import Slot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoseGroup:
    """One engine step's poses, (G, H, W, 3) uint8, with (face captured, pose drawn) ns per pose."""

    poses: np.ndarray
    stamps: list[tuple[int, int]]


class Sampler:
    """Owns the pose renderer (calibration, auto-fit, smoothing); the control thread reaches it through
    the locked methods below, the sampling thread through run()."""

    def __init__(self, renderer: PoseRenderer, group_size: Callable[[], int]) -> None:
        self.groups = Slot()
        self.source: FaceSource | None = None
        self.paused = False
        self._renderer = renderer
        self._group_size = group_size  # read every group: a latency switch changes it
        self._lock = threading.Lock()
        self._warn = RateLimitedLog(log)

    def render(self, face: FaceState | None) -> np.ndarray:
        with self._lock:
            return self._renderer.render(face)

    def set_calibration(self, calibration: Calibration) -> None:
        """A character switch or a reload: new calibration, same smoothing and fit."""
        with self._lock:
            self._renderer.set_calibration(calibration)

    def recenter(self) -> Calibration:
        """Take the face tracked now as neutral; returns the calibration after it."""
        face = self.source.latest() if self.source is not None else None
        with self._lock:
            if face is None or not self._renderer.recenter(face):
                raise RainError("no face tracked right now: look at the camera (or start the tracker) and try again")
            return self._renderer.calibration

    def fit_state(self) -> str:
        """off | waiting (for a steady second of tracking) | fitted."""
        with self._lock:
            if not self._renderer.calibration.framing.auto_fit:
                return "off"
            return "fitted" if self._renderer.fit is not None else "waiting"

    def pause(self) -> None:
        self.paused = True
        self.groups.clear()

    def run(self, source: FaceSource, fps: float, stop: threading.Event) -> None:
        """Sample `source` at `fps` until `stop`; never raises (a failed sample is logged and skipped)."""
        self.source = source
        ticker = Ticker(fps)
        poses: list[np.ndarray] = []
        stamps: list[tuple[int, int]] = []
        while ticker.wait(stop):
            if self.paused:
                poses, stamps = [], []
                continue
            try:
                face = source.latest()
                sampled = time.monotonic_ns()
                poses.append(self.render(face))
                stamps.append((sampled if face is None else min(face.timestamp_ns, sampled), time.monotonic_ns()))
            except Exception as err:
                self._warn.warning("sample", "pose sampling failed: %s: %s", type(err).__name__, err)
                log.debug("pose sampling failed", exc_info=err)
                continue
            group = self._group_size()
            if len(poses) >= group:
                self.groups.put(PoseGroup(np.stack(poses[-group:]), stamps[-group:]))
                poses, stamps = [], []
