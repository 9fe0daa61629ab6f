"""Retry with backoff: the one schedule every retrying part of the daemon follows.

A face source that lost its camera, an output whose device went away, a microphone unplugged, a
stream step out of memory: each waits `first` seconds, doubling after every failure up to
`longest`, and starts from `first` again after a run that stayed healthy for `healthy_after_s`.
"""

from __future__ import annotations

import time
from typing import Callable


class Backoff:
    """Waits that double after each failure; `failed()` says how long to wait before the next try."""

    def __init__(self, first: float = 0.5, longest: float = 8.0, healthy_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < first <= longest:
            raise ValueError(f"backoff needs 0 < first <= longest, got {first} and {longest}")
        self.first, self.longest, self.healthy_after_s = first, longest, healthy_after_s
        self._clock = clock
        self._next = first
        self._since = clock()
        self.failures = 0

    def started(self) -> None:
        """A try begins now (how long it lasts decides whether the next failure starts over)."""
        self._since = self._clock()

    def failed(self) -> float:
        """Seconds to wait before the next try; grows unless the try that failed ran healthily."""
        if self._clock() - self._since >= self.healthy_after_s:
            self._next = self.first
        wait = self._next
        self._next = min(self.longest, self._next * 2)
        self.failures += 1
        return wait

    def succeeded(self) -> None:
        """The thing works again: the next failure waits `first` once more."""
        self._next = self.first
