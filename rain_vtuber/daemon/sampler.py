"""Sampler stage: once per output period, the newest face -> what drives it -> its pose image; groups -> the engine.

Each sample goes through the FaceDriver first (face/driver.py: the audio mouth, the expressions
switched on, idle life while tracking is lost), so every source and every output gets them. The
audio mouth is the one captured when the face was: the pose and the voice keep the same clock.
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
from rain_vtuber.face import FaceDriver, Mouth
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

    def __init__(self, renderer: PoseRenderer, group_size: Callable[[], int], driver: FaceDriver,
                 mouth_at: Callable[[int], Mouth | None] = lambda t_ns: None) -> None:
        """driver: built with `place=sampler.place_neutral` (it runs under this sampler's lock);
        mouth_at: the audio mouth captured at a monotonic time, None without audio."""
        self.groups = Slot()
        self.source: FaceSource | None = None
        self.paused = False
        self.driver = driver
        self._mouth_at = mouth_at
        self._renderer = renderer
        self._group_size = group_size  # read every group: a latency switch changes it
        self._lock = threading.Lock()
        self._warn = RateLimitedLog(log)

    def render(self, face: FaceState | None) -> np.ndarray:
        """The pose image of a face as it is (the neutral pose with None): no driver, for timing the engine."""
        with self._lock:
            return self._renderer.render(face)

    def sample(self, face: FaceState | None, captured: int, now: int) -> np.ndarray:
        """The pose image of what drives the face at `now`: the tracked `face` (captured at `captured`),
        the audio mouth of that instant, the expressions on and idle life."""
        mouth = self._mouth_at(captured)
        with self._lock:
            return self._renderer.render(self.driver.drive(face, now, mouth))

    def place_neutral(self, points: np.ndarray) -> np.ndarray:
        """Where the character's neutral face is drawn now (the driver's `place`; called under the lock)."""
        return self._renderer.place_neutral(points)

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
                captured = sampled if face is None else min(face.timestamp_ns, sampled)
                poses.append(self.sample(face, captured, sampled))
                stamps.append((captured, time.monotonic_ns()))
            except Exception as err:
                self._warn.warning("sample", "pose sampling failed: %s: %s", type(err).__name__, err)
                log.debug("pose sampling failed", exc_info=err)
                continue
            group = self._group_size()
            if len(poses) >= group:
                self.groups.put(PoseGroup(np.stack(poses[-group:]), stamps[-group:]))
                poses, stamps = [], []
