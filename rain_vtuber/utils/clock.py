"""A fixed-rate clock and a rate meter on time.monotonic: the output clock, the face sampler, fps figures."""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

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
