"""tests/waiting.py, the suite's one wait-until helper: what it returns, when and how it fails."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.waiting import never_within, wait_until


def test_returns_the_first_truthy_value() -> None:
    values = iter([0, None, "", {"state": "running"}])
    assert wait_until(lambda: next(values), 1.0) == {"state": "running"}


def test_a_timeout_names_what_was_awaited_or_the_condition_source() -> None:
    with pytest.raises(AssertionError, match=r"^timed out after 0.05 s waiting for the control port$"):
        wait_until(lambda: False, 0.05, what="the control port")
    with pytest.raises(AssertionError, match=r"waiting for .*lambda: 1 > 2"):
        wait_until(lambda: 1 > 2, 0.05)
    seen = []
    with pytest.raises(AssertionError, match="waiting for bob fused; log: 3 lines"):
        wait_until(lambda: seen.append(1), 0.05, what=lambda: "bob fused; log: 3 lines")


def test_a_process_that_exits_fails_at_once_with_its_code() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait(timeout=30)
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"exited with 3 while waiting for the daemon"):
        wait_until(lambda: False, 30.0, what="the daemon", alive=proc)
    assert time.monotonic() - began < 1.0


def test_ignored_exceptions_mean_not_yet_and_others_propagate() -> None:
    calls = []

    def not_listening_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not yet")
        return "pong"

    assert wait_until(not_listening_twice, 1.0, ignore=ConnectionRefusedError) == "pong"
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, 1.0, ignore=ConnectionRefusedError)


def test_tick_runs_between_looks_until_the_condition_holds() -> None:
    sent: list[int] = []
    assert wait_until(lambda: len(sent) >= 3 and len(sent), 1.0, tick=lambda: sent.append(1)) == 3
    assert wait_until(lambda: True, 1.0, tick=lambda: sent.append(1)) is True
    assert len(sent) == 3  # no tick once the first look holds


def test_never_within_passes_when_nothing_happens_and_fails_when_it_does() -> None:
    began = time.monotonic()
    never_within(lambda: False, 0.1)
    assert time.monotonic() - began >= 0.1
    with pytest.raises(AssertionError, match=r"a frame happened \(7\) within 1 s"):
        never_within(lambda: 7, 1.0, what="a frame")
