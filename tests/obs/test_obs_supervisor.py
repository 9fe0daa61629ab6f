"""rain_obs_supervisor: backoff, and the supervisor running real processes (tests/obs/fake_daemon.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fake_daemon import command as fake_daemon_command
from rain_obs_client import ControlClient
from rain_obs_supervisor import Backoff, ProcState, Supervisor
from tests.waiting import wait_until


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(initial_s=1.0, factor=2.0, maximum_s=5.0, stable_s=30.0)
    assert [backoff.next_delay(0.5) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.next_delay(30.0) == 1.0  # it ran long enough: a fresh crash, not a crash loop
    assert backoff.next_delay(1.0) == 2.0
    backoff.reset()
    assert backoff.next_delay(0.0) == 1.0



class Recorder:
    """Collects log lines; sends /rain/shutdown through a real client until the daemon answers."""

    def __init__(self, port: int) -> None:
        self.lines: list[str] = []
        self.requests = 0
        self.client = ControlClient(port)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def shutdown(self) -> bool:
        if any(reply.command == "/rain/shutdown" for reply in self.client.poll()):
            return True
        self.requests += 1
        self.client.send("/rain/shutdown")
        return False


@pytest.fixture
def recorder(port: int):
    rec = Recorder(port)
    yield rec
    rec.client.close()


@pytest.fixture
def supervisors():
    """Every supervisor a test makes; their children are killed by PID afterwards."""
    made: list[Supervisor] = []
    yield made
    for sup in made:
        if sup.proc is not None and sup.proc.poll() is None:
            sup.proc.kill()
            sup.proc.wait(5)


def _supervisor(recorder: Recorder, made: list, tmp_path: Path, **kw) -> Supervisor:
    sup = Supervisor(recorder.shutdown, recorder.log, log_path=tmp_path / "daemon.log", **kw)
    made.append(sup)
    return sup


def _wait_listening(sup: Supervisor) -> None:
    wait_until(lambda: "listening" in (sup.log_path.read_text() if sup.log_path.exists() else ""), 10.0)


def test_graceful_stop(port, recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path)
    sup.start(fake_daemon_command(port))
    assert sup.state == ProcState.RUNNING
    _wait_listening(sup)
    began = time.monotonic()
    sup.stop_and_wait()
    assert sup.state == ProcState.STOPPED
    assert sup.proc.returncode == 0
    assert time.monotonic() - began < 2.0
    assert "daemon stopped (code 0, graceful)" in recorder.lines


def test_stop_while_the_daemon_is_still_starting_is_graceful(port, recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path)
    sup.start(fake_daemon_command(port))
    sup.stop_and_wait()  # the first /rain/shutdown arrives before the port is bound; it is resent
    assert sup.proc.returncode == 0
    assert recorder.requests >= 2
    assert "daemon stopped (code 0, graceful)" in recorder.lines


@pytest.mark.parametrize(
    "flags, step, code",
    [(["--ignore-shutdown"], "terminate", -15), (["--ignore-shutdown", "--ignore-term"], "kill", -9)],
)
def test_stop_escalates(port, recorder, supervisors, tmp_path, flags, step, code) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path, grace_s=1.1, terminate_s=0.3)
    sup.start(fake_daemon_command(port, *flags))
    _wait_listening(sup)
    sup.stop()
    assert sup.state == ProcState.STOPPING
    wait_until(lambda: sup.state == ProcState.STOPPED, 5.0, tick=sup.tick)
    assert sup.proc.returncode == code
    assert recorder.requests == 1  # the daemon acknowledged it: asking again would not help
    assert f"daemon stopped (code {code}, {step})" in recorder.lines


def test_crash_restarts_with_backoff_and_reports_why(port, recorder, supervisors, tmp_path) -> None:
    backoff = Backoff(initial_s=0.3, factor=2.0, maximum_s=1.0)
    sup = _supervisor(recorder, supervisors, tmp_path, backoff=backoff)
    sup.start(fake_daemon_command(port, "--exit-after", "0.5"))
    first = sup.pid
    wait_until(lambda: sup.state == ProcState.WAITING, 10.0, tick=sup.tick)
    assert "crashed on purpose" in sup.last_error and "code 3" in sup.last_error
    died = time.monotonic()
    wait_until(lambda: sup.state == ProcState.RUNNING, 5.0, tick=sup.tick)
    assert time.monotonic() - died >= 0.25  # waited out the backoff
    assert sup.pid != first and sup.restarts == 1
    wait_until(lambda: sup.state == ProcState.WAITING, 10.0, tick=sup.tick)
    assert "restarting the daemon in 0.6 s" in recorder.lines  # second crash in a row: doubled
    sup.stop()
    assert sup.state == ProcState.STOPPED  # stop while waiting cancels the restart
    time.sleep(0.7)
    sup.tick()
    assert sup.state == ProcState.STOPPED


def test_restart_replaces_the_process(port, recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path)
    sup.start(fake_daemon_command(port))
    first = sup.proc
    _wait_listening(sup)
    sup.restart(fake_daemon_command(port))
    assert sup.state == ProcState.STOPPING
    wait_until(lambda: sup.state == ProcState.RUNNING and sup.proc is not first, 5.0, tick=sup.tick)
    assert first.returncode == 0


def test_unstartable_executable_is_retried_not_raised(recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path, backoff=Backoff(initial_s=10.0))
    sup.start([str(tmp_path / "no-such-rain-vtuber"), "daemon"])
    assert sup.state == ProcState.WAITING
    assert sup.last_error.startswith("cannot start")
    assert "restarting the daemon in 10.0 s" in recorder.lines

