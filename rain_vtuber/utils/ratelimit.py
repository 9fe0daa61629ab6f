"""A log that warns at most once per interval per key, so a flood of bad input is not a flood of lines."""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    """Warn at most once per `interval_s` per key; the next warning says how many were held back.

    A flood of bad packets must not become a flood of log lines (or a slow disk).
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 5.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        suffix = f" ({held} similar warnings suppressed)" if held else ""
        self._logger.warning(message + suffix, *args)
