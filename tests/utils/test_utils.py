"""The package-wide helpers: backoff schedule, atomic writes, rate-limited warnings."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from rain_vtuber.utils.atomic import atomic_write
from rain_vtuber.utils.backoff import Backoff
from rain_vtuber.utils.ratelimit import RateLimitedLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_the_cap_and_starts_over_after_a_healthy_run() -> None:
    clock = FakeClock()
    backoff = Backoff(0.5, 8.0, healthy_after_s=30.0, clock=clock)
    waits = []
    for _ in range(7):
        backoff.started()
        waits.append(backoff.failed())
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.started()
    clock.now += 31.0  # this try ran healthily for longer than 30 s
    assert backoff.failed() == 0.5
    backoff.failed()
    backoff.succeeded()
    assert backoff.failed() == 0.5
    assert backoff.failures == 10


def test_backoff_rejects_a_schedule_that_cannot_wait() -> None:
    with pytest.raises(ValueError, match="first <= longest"):
        Backoff(2.0, 1.0)


def test_atomic_write_replaces_whole_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    atomic_write(target, "one")
    assert target.read_text() == "one" and target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o600)
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two" and target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]  # no temporary file left


def test_atomic_write_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path, full_disk) -> None:
    target = full_disk.path / "calibration.yaml"
    atomic_write(target, "old")
    full_disk.fill()
    with pytest.raises(OSError):
        atomic_write(target, "new" * 100_000)
    assert target.read_text() == "old"
    assert not [p for p in full_disk.path.iterdir() if p.name.endswith(".tmp")]


def test_two_writers_never_share_a_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(50):
                atomic_write(target, text * 1000)
        except BaseException as err:  # noqa: BLE001 - collected for the assert
            errors.append(err)

    threads = [threading.Thread(target=write, args=(c,)) for c in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and target.read_text() in ("a" * 1000, "b" * 1000)
    assert os.listdir(tmp_path) == ["shared.txt"]


def test_rate_limited_log_holds_back_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    warn = RateLimitedLog(logging.getLogger("rain.test"), interval_s=60.0)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            warn.warning("bad", "bad packet %d", 1)
        warn.warning("other", "another kind")
    assert [r.getMessage() for r in caplog.records] == ["bad packet 1", "another kind"]
