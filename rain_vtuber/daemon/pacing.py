"""Pacing: turn bursts of 4 engine frames into evenly spaced output, newest wins when behind.

The engine emits frames in groups; OBS wants one frame every period. A `Ticker` keeps a monotonic
schedule (resetting after a large drift instead of bursting to catch up), a `FrameQueue` holds at most
`max_frames` finished frames and drops the oldest beyond that, and `LatencyMeter` keeps the recent
pose-pushed -> frame-out delays.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Clock = Callable[[], float]


class Ticker:
    """Fixed-period schedule on a monotonic clock.

    wait() sleeps until the next tick. If the caller fell more than `drift_reset` periods behind
    (a stall, a suspended laptop), the schedule restarts from now instead of firing the missed ticks.
    """

    def __init__(self, fps: float, drift_reset: float = 5.0, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.drift_reset = drift_reset
        self.resets = 0
        self.set_fps(fps)

    def set_fps(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._next = self._clock() + self.period

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next tick; False if `stop` was set meanwhile."""
        delay = self._next - self._clock()
        if delay > 0 and stop.wait(delay):
            return False
        now = self._clock()
        if now - self._next > self.drift_reset * self.period:
            self.resets += 1
            self._next = now
        self._next += self.period
        return not stop.is_set()


@dataclass(frozen=True)
class Timed:
    """A frame and the monotonic_ns time its pose was pushed."""

    frame: np.ndarray
    pushed_ns: int


class FrameQueue:
    """Bounded FIFO between the engine thread and the output thread; overflow drops the oldest frames."""

    def __init__(self, max_frames: int = 8) -> None:
        self.max_frames = max_frames
        self._items: collections.deque[Timed] = collections.deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def put_many(self, frames: Sequence[np.ndarray], pushed_ns: Sequence[int]) -> None:
        with self._lock:
            self._items.extend(Timed(f, t) for f, t in zip(frames, pushed_ns))
            while len(self._items) > self.max_frames:
                self._items.popleft()
                self.dropped += 1

    def pop(self) -> Timed | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Slot:
    """One-item mailbox: put() replaces an unread item (counted as dropped); get() waits for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object | None = None
        self.dropped = 0

    def put(self, item: object) -> bool:
        """Store item; True if it replaced one the reader never took."""
        with self._cond:
            replaced = self._item is not None
            self.dropped += replaced
            self._item = item
            self._cond.notify()
            return replaced

    def get(self, timeout: float) -> object | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def clear(self) -> None:
        with self._cond:
            self._item = None


class LatencyMeter:
    """Pose-pushed -> frame-out delays in milliseconds over the last `window` frames (4 s at 30 fps)."""

    def __init__(self, window: int = 120) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, pushed_ns: int, out_ns: int | None = None) -> None:
        out_ns = time.monotonic_ns() if out_ns is None else out_ns
        with self._lock:
            self._values.append((out_ns - pushed_ns) / 1e6)

    def p50(self) -> float | None:
        with self._lock:
            return float(np.median(self._values)) if self._values else None


class RateMeter:
    """Events per second over a sliding window (the measured output fps)."""

    def __init__(self, window_s: float = 2.0, clock: Clock = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self._times.append(self._clock())
            self._trim()

    def rate(self) -> float:
        with self._lock:
            self._trim()
            return len(self._times) / self.window_s

    def _trim(self) -> None:
        cutoff = self._clock() - self.window_s
        while self._times and self._times[0] < cutoff:
            self._times.popleft()


def sustainable_fps(step_seconds: Sequence[float], group_size: int, headroom: float, max_fps: float) -> float:
    """Median engine step time -> the output rate it can hold with some headroom (whole fps, >= 1)."""
    step = float(np.median(step_seconds))
    return float(max(1.0, min(max_fps, np.floor(group_size / step * headroom))))
