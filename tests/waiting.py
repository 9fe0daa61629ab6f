"""The one wait-until helper of the suite: poll a condition, fail with what was awaited."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float, poll_s: float = 0.01, what: str = "") -> None:
    """Return once `condition()` is truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(poll_s)
