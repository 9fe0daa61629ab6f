"""rain_obs_control: the Controller against real fake-daemon processes, local and "remote" (127.0.0.2)."""

from __future__ import annotations

import subprocess
import time

import pytest

from fake_daemon import command as fake_daemon_command
from rain_obs_control import STATUS_STALE_S, Controller
from rain_obs_settings import ScriptSettings
from rain_obs_supervisor import ProcState
from tests.waiting import wait_until


def test_controller_talks_to_the_daemon_it_started(port, fake_daemon_exe, tmp_path) -> None:
    lines: list[str] = []
    controller = Controller(lines.append, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(executable=str(fake_daemon_exe), port=port))
    try:
        controller.start()
        wait_until(lambda: controller.characters() == ("alice", "bob"), 10.0, tick=controller.tick)
        assert controller.status_line().startswith("running | streaming | alice")
        controller.send("/rain/character", "bob")
        wait_until(lambda: controller.status.character == "bob", 3.0, tick=controller.tick)
        controller.send("/rain/character", "zed")
        wait_until(lambda: controller.last_error, 3.0, tick=controller.tick)
        assert controller.last_error.startswith("/rain/character: unknown")
        worst = 0.0
        for _ in range(20):
            began = time.perf_counter()
            controller.tick()
            worst = max(worst, time.perf_counter() - began)
            time.sleep(0.01)
        assert worst < 0.02, f"tick took {worst * 1000:.1f} ms"
    finally:
        controller.shutdown()
    assert controller.supervisor.state == ProcState.STOPPED
    assert controller.supervisor.proc.returncode == 0
    assert "listening" in (tmp_path / f"rain-vtuber-daemon-{port}.log").read_text()


def test_controller_without_an_executable_says_so(tmp_path) -> None:
    lines: list[str] = []
    controller = Controller(lines.append, lambda _: None, log_dir=tmp_path)
    controller.start()
    assert controller.supervisor.state == ProcState.STOPPED
    assert "rain-vtuber is not on PATH" in controller.status_line()


# --- remote daemon (another PC): controlled, never started or stopped -----------------------------

REMOTE = "127.0.0.2"  # not 127.0.0.1 or localhost, so the script treats it as another PC


@pytest.fixture
def remote_daemon(port):
    """A daemon the test (not the script) runs, on REMOTE with a token."""
    proc = subprocess.Popen(
        fake_daemon_command(port, "--host", REMOTE, "--token", "lan"), stdout=subprocess.PIPE, text=True
    )
    assert "listening" in proc.stdout.readline()
    yield proc
    proc.kill()
    proc.wait(timeout=5)


def test_controller_controls_a_remote_daemon_it_never_starts_or_stops(port, remote_daemon, tmp_path) -> None:
    lines: list[str] = []
    controller = Controller(lines.append, lambda _: "/nonexistent/rain-vtuber", log_dir=tmp_path)
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="lan"))
    assert controller.status_line() == f"remote {REMOTE}:{port} | not connected (Start daemon connects)"
    controller.start()
    wait_until(lambda: controller.characters() == ("alice", "bob"), 5.0, tick=controller.tick)
    assert controller.status_line().startswith(f"remote {REMOTE}:{port} | streaming | alice | 12.5 fps")
    controller.send("/rain/character", "bob")
    wait_until(lambda: controller.status.character == "bob", 3.0, tick=controller.tick)
    controller.stop()
    controller.restart()
    controller.shutdown()
    assert controller.supervisor.proc is None and remote_daemon.poll() is None  # never spawned, never stopped
    assert any("not started by OBS" in line for line in lines)


def test_remote_daemon_with_another_token_shows_its_refusal(port, remote_daemon, tmp_path) -> None:
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="guess"))
    controller.start()
    wait_until(lambda: controller.last_error, 3.0, tick=controller.tick)
    assert controller.status_line() == f"remote {REMOTE}:{port} | /rain/status: missing or wrong token"
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="lan"))  # applies at once
    wait_until(lambda: controller.status is not None, 3.0, tick=controller.tick)
    controller.shutdown()
    assert remote_daemon.poll() is None


def test_unreachable_remote_daemon_shows_not_reachable_without_blocking(port, tmp_path) -> None:
    now = [100.0]
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller._clock = lambda: now[0]
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="lan"))
    controller.start()
    worst = 0.0
    for _ in range(20):
        began = time.perf_counter()
        controller.tick()
        worst = max(worst, time.perf_counter() - began)
        now[0] += 0.25
    assert worst < 0.02, f"tick took {worst * 1000:.1f} ms"
    assert now[0] - 100.0 > STATUS_STALE_S
    assert controller.status_line() == f"remote {REMOTE}:{port} | not reachable"
    controller.shutdown()



def test_remote_daemon_pc_that_cannot_be_found_says_so(port, tmp_path) -> None:
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(host="no-such-host.invalid", port=port))
    controller.start()
    wait_until(lambda: "cannot find" in controller.status_line(), 10.0, tick=controller.tick)
    assert controller.status_line().startswith(f"remote no-such-host.invalid:{port} | cannot find the daemon PC")
    assert controller.client is None
    controller.shutdown()



def test_start_leaves_a_running_daemon_alone_and_restart_replaces_it(port, fake_daemon_exe, tmp_path) -> None:
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(executable=str(fake_daemon_exe), port=port))
    try:
        controller.start()
        first = controller.supervisor.proc
        wait_until(lambda: controller.status is not None, 10.0, tick=controller.tick)
        controller.start()
        assert controller.supervisor.proc is first and controller.supervisor.state == ProcState.RUNNING
        controller.restart()
        wait_until(lambda: controller.supervisor.proc is not first and controller.status is not None, 10.0,
                   tick=controller.tick)
        assert first.returncode == 0  # asked to shut down, not killed
    finally:
        controller.shutdown()

