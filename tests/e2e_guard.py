"""The e2e tier, enforced: a test not marked e2e that starts the daemon (in process or as a command),
the soak tool, the device check's daemon step, OBS or a network namespace fails at once, so the quick
loop (`python -m pytest -m "not slow and not e2e"`) never starts one. tests/conftest.py applies it to
every test, fixtures included."""

from __future__ import annotations

import shlex
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import pytest

HINT = 'mark it e2e (pytestmark = pytest.mark.e2e for a whole module): the quick loop is -m "not slow and not e2e"'


def e2e_command(argv: Sequence[Any]) -> Optional[str]:
    """What end-to-end run the command `argv` starts, None when it starts none."""
    args = [str(a) for a in argv]
    names = [Path(a).name for a in args]
    if names[:1] == ["obs"]:
        return "OBS"
    if args[:3] == ["ip", "netns", "add"]:
        return "a network namespace"
    for i, arg in enumerate(args):
        if arg == "daemon" and i and (args[i - 1] in ("rain_vtuber", "rain_vtuber.cli.main") or names[i - 1] == "rain-vtuber"):
            return "the daemon"
        if arg == "rain_vtuber.daemon.soak":
            return "the soak tool (a daemon)"
        if arg == "device-check" and "daemon" in _steps(args[i + 1:]):
            return "the device check's daemon step"
    return None


def _steps(args: list[str]) -> list[str]:
    """The device check's --steps (all of them, the daemon's included, without the flag)."""
    for flag, value in zip(args, args[1:]):
        if flag == "--steps":
            return value.split(",")
    return ["daemon"]


@contextmanager
def guard(item: pytest.Item) -> Iterator[None]:
    """While `item` runs (its fixtures too), fail it if it is not marked e2e and starts an end-to-end run."""
    if item.get_closest_marker("e2e") is not None:
        yield
        return
    from rain_vtuber.daemon.pipeline import Pipeline

    popen_init = subprocess.Popen.__init__

    def checked_popen(self: subprocess.Popen, args: Any, *more: Any, **kwargs: Any) -> None:
        argv = shlex.split(args) if isinstance(args, str) else [args] if isinstance(args, (bytes, Path)) else args
        if (what := e2e_command(argv)) is not None:
            pytest.fail(f"{item.nodeid} starts {what} ({' '.join(map(str, argv))[:200]}): {HINT}", pytrace=False)
        popen_init(self, args, *more, **kwargs)

    def no_pipeline_start(self: Pipeline) -> None:
        pytest.fail(f"{item.nodeid} starts the daemon in process (Pipeline.start): {HINT}", pytrace=False)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", checked_popen)
        patch.setattr(Pipeline, "start", no_pipeline_start)
        yield
