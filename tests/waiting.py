"""The one wait-until helper of the suite: poll a condition, fail with what was awaited."""

from __future__ import annotations

import inspect
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar, Union

T = TypeVar("T")
What = Union[str, Callable[[], str]]


def wait_until(condition: Callable[[], T], timeout: float, poll_s: float = 0.01, what: What = "",
               alive: Optional[subprocess.Popen] = None,
               ignore: Union[type[BaseException], tuple[type[BaseException], ...]] = (),
               tick: Optional[Callable[[], object]] = None) -> T:
    """Poll `condition()` every `poll_s` seconds and return its first truthy value; AssertionError
    naming `what` after `timeout` seconds.

    what: what is awaited, for the message; a callable is asked only on failure (a log tail, a value).
    alive: a process that must keep running meanwhile: fail at once, with its exit code, when it exits.
    ignore: exceptions from `condition` that mean "not yet" (a daemon not listening yet).
    tick: called after each look that found the condition false, before the pause (a UDP packet sent
        again, an OBS timer run): what makes the condition come true.
    """
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and (code := alive.poll()) is not None:
            raise AssertionError(f"{_command(alive)} exited with {code} while waiting for {_describe(what, condition)}")
        try:
            value = condition()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {_describe(what, condition)}")
        if tick is not None:
            tick()
        time.sleep(poll_s)


def never_within(condition: Callable[[], object], seconds: float, poll_s: float = 0.01, what: What = "") -> None:
    """The opposite check: AssertionError as soon as `condition()` is truthy within `seconds` (something
    that must not happen, such as a frame published for a rejected packet)."""
    deadline = time.monotonic() + seconds
    while True:
        if value := condition():
            raise AssertionError(f"{_describe(what, condition)} happened ({value!r}) within {seconds:g} s")
        if time.monotonic() > deadline:
            return
        time.sleep(poll_s)


def _describe(what: What, condition: Callable[[], object]) -> str:
    """`what`, or else the line of source that holds the condition (a lambda says what it waits for)."""
    if described := what() if callable(what) else what:
        return described
    try:
        return inspect.getsource(condition).strip()[:300]
    except (OSError, TypeError):
        return repr(condition)


def _command(proc: subprocess.Popen) -> str:
    args = [proc.args] if isinstance(proc.args, (str, bytes)) else list(proc.args)
    return " ".join([Path(str(args[0])).name, *map(str, args[1:4])])
