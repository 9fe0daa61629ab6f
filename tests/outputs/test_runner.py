"""OutputRunner: newest frame wins, a failing output is retried with backoff and never blocks the caller."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.runner import OutputRunner
from tests.outputs.recorders import Recorder
from tests.waiting import wait_until


def frame(sequence: int) -> OutputFrame:
    return OutputFrame(np.zeros((2, 4, 4), np.uint8), captured_ns=None, sequence=sequence)


def test_a_stalled_output_gets_the_newest_frame_and_counts_the_rest() -> None:
    output = Recorder()
    runner = OutputRunner(output, "test")
    runner.start()
    wait_until(lambda: runner.state == "running", 2.0)
    output.gate.clear()
    runner.offer(frame(1))
    wait_until(lambda: output.opens == 1 and runner._frame is None, 2.0)  # taken, blocked in write
    began = time.monotonic()
    for sequence in range(2, 12):
        runner.offer(frame(sequence))
    assert time.monotonic() - began < 0.05  # offer never waits for the output
    output.gate.set()
    wait_until(lambda: output.written[-1:] == [11], 2.0)
    assert output.written == [1, 11] and runner.dropped == 9
    runner.close()
    assert runner.state == "closed" and output.closes >= 1
    runner.close()  # idempotent


def test_failures_are_reported_and_retried_until_the_output_works(monkeypatch: pytest.MonkeyPatch) -> None:
    output = Recorder(fail_opens=2, fail_writes=1)
    runner = OutputRunner(output, "flaky")
    monkeypatch.setattr("rain_vtuber.outputs.runner.Backoff.failed", lambda self: 0.01)
    runner.start()
    wait_until(lambda: runner.state == "running", 2.0)
    assert output.opens == 3
    runner.offer(frame(1))
    wait_until(lambda: runner.state == "error" or output.opens == 4, 2.0)
    wait_until(lambda: runner.state == "running" and output.opens == 4, 2.0)
    assert runner.status()["error"] is None
    runner.offer(frame(2))
    wait_until(lambda: output.written == [2], 2.0)
    runner.close()


def test_an_unavailable_output_says_why_and_is_not_retried() -> None:
    output = Recorder(unavailable=True)
    runner = OutputRunner(output, "none")
    runner.start()
    wait_until(lambda: runner.state == "unavailable", 2.0)
    time.sleep(0.7)  # longer than the first backoff
    assert output.opens == 1
    assert runner.status() == {"kind": "test", "state": "unavailable", "error": "no library for this here",
                               "frames_written": 0, "dropped": 0}
    runner.offer(frame(1))  # still never blocks
    runner.close()


def test_open_write_and_close_all_run_on_the_outputs_own_thread() -> None:
    output = Recorder(fail_writes=1)
    runner = OutputRunner(output, "own")
    runner.start()
    runner.offer(frame(1))  # fails: closed and reopened on the thread
    wait_until(lambda: output.opens == 2 and runner.state == "running", 3.0)
    runner.offer(frame(2))
    wait_until(lambda: output.written == [2], 2.0)
    runner.close()
    assert output.closes == 2 and output.threads == {"rain-output-own"}


def test_a_runner_never_started_still_closes_its_output() -> None:
    output = Recorder()
    OutputRunner(output, "idle").close()
    assert output.closes == 1 and output.opens == 0


def test_rate_changes_reach_the_output_on_its_thread_before_the_next_frame() -> None:
    output = Recorder()
    runner = OutputRunner(output, "rate")
    runner.set_rate(FrameRate(24000, 1001))  # before it opened: applied before open()
    runner.start()
    wait_until(lambda: runner.state == "running", 2.0)
    assert output.rates == [FrameRate(24000, 1001)]
    runner.set_rate(FrameRate(60))
    runner.offer(frame(1))
    wait_until(lambda: output.written == [1], 2.0)
    assert output.rates[-1] == FrameRate(60) and output.rate.fps == 60
    runner.close()


@pytest.mark.parametrize("fps, expected", [(60, (60, 1)), (29.97, (30000, 1001)), (23.976, (24000, 1001)),
                                           (12.5, (25, 2)), (17.3, (173, 10))])
def test_frame_rates_snap_to_what_obs_offers(fps: float, expected: tuple[int, int]) -> None:
    rate = FrameRate.nearest(fps)
    assert (rate.numerator, rate.denominator) == expected


def test_a_failure_that_repeats_is_logged_once_and_the_recovery_once(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """A port in use is one line, not one per retry; the status says it all along."""
    output = Recorder(fail_opens=5)
    runner = OutputRunner(output, "busy")
    monkeypatch.setattr("rain_vtuber.outputs.runner.Backoff.failed", lambda self: 0.01)
    with caplog.at_level("INFO", logger="rain_vtuber.outputs.runner"):
        runner.start()
        wait_until(lambda: runner.state == "running", 2.0)
        runner.close()
    lines = [r.getMessage() for r in caplog.records]
    assert output.opens == 6
    assert lines.count("output busy: device busy; retrying with backoff") == 1
    assert "output busy open again" in lines
