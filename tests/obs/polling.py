"""Bounded waiting for the OBS tests: poll a condition, optionally driving a timer tick."""

from __future__ import annotations

import time
from typing import Callable


def until(predicate: Callable[[], object], timeout: float, tick: Callable[[], object] = lambda: None) -> bool:
    """Call tick() then predicate() every 20 ms until it is truthy (True) or `timeout` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if predicate():
            return True
        time.sleep(0.02)
    return False
