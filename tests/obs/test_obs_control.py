"""The OBS script's stdlib core: OSC codec vs python-osc, backoff, status, client and supervisor.

Supervisor and client tests run real processes (tests/obs/fake_daemon.py) on real UDP sockets.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from polling import until
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_obs_control import (
    STATUS_STALE_S,
    Backoff,
    ControlClient,
    Controller,
    HostLookup,
    OscError,
    ProcState,
    ScriptSettings,
    Supervisor,
    daemon_command,
    daemon_workdir,
    decode_message,
    encode_message,
    format_status,
    parse_reply,
    parse_status,
    split_args,
)

FAKE_DAEMON = Path(__file__).with_name("fake_daemon.py")
REAL_STATUS = {
    "state": "streaming",
    "error": None,
    "character": "alice",
    "characters": {"alice": {"state": "ready", "error": None}, "bob": {"state": "fusing", "error": None}},
    "source": {"name": "vmc", "state": "tracking", "error": None},
    "fps_target": 12.0,
    "output_fps": 11.96,
    "latency_ms_p50": 183.4,
    "dropped_frames": 0,
    "ndi": {"name": "HOST (RAIN VTuber)", "width": 128, "height": 128},
    "uptime_s": 4.2,
    "version": "0.1.0",
}


def _fake_daemon_command(port: int, *flags: str) -> list[str]:
    return [sys.executable, str(FAKE_DAEMON), "daemon", "--control-port", str(port), *flags]


# --- OSC codec ---------------------------------------------------------------------------------

ARGS = [
    [],
    [""],
    ["abc"],  # 3 bytes + NUL fills the word exactly
    ["abcd"],  # 4 bytes needs a whole extra word of NULs
    ["tök€n", -7, 2**31 - 1, 0.5, True, False, None],
    [b"", b"x", b"1234", b"12345"],
]


@pytest.mark.parametrize("args", ARGS)
def test_encoded_messages_parse_in_python_osc(args: list) -> None:
    data = encode_message("/rain/character", args)
    msg = OscMessage(data)
    assert len(data) % 4 == 0
    assert msg.address == "/rain/character"
    assert msg.params == args


# python-osc cannot build None or empty blobs, so those are only checked the other way round
@pytest.mark.parametrize("args", [a for a in ARGS if None not in a and b"" not in a] + [[b"x", b"1234", b"12345"]])
def test_python_osc_messages_decode(args: list) -> None:
    builder = OscMessageBuilder("/rain/reply")
    for arg in args:
        builder.add_arg(arg)
    assert decode_message(builder.build().dgram) == ("/rain/reply", args)


def test_decode_reads_doubles_and_int64_from_python_osc() -> None:
    builder = OscMessageBuilder("/x")
    builder.add_arg(1.25, OscMessageBuilder.ARG_TYPE_DOUBLE)
    builder.add_arg(2**40, OscMessageBuilder.ARG_TYPE_INT64)
    assert decode_message(builder.build().dgram) == ("/x", [1.25, 2**40])


def test_decode_address_without_type_tags() -> None:
    assert decode_message(b"/rain/ping\0\0") == ("/rain/ping", [])


@pytest.mark.parametrize(
    "data, why",
    [
        (b"/rain", "unterminated"),
        (b"rain\0\0\0\0,\0\0\0", "start with '/'"),
        (b"/x\0\0s\0\0\0", "type tags"),
        (b"/x\0\0,i\0\0\0\0", "ends inside"),
        (b"/x\0\0,s\0\0abcd", "unterminated"),
        (b"/x\0\0,b\0\0" + struct.pack(">i", 99) + b"ab", "blob"),
        (b"/x\0\0,b\0\0" + struct.pack(">i", -1), "blob"),
        (b"/x\0\0,r\0\0\0\0\0\0", "unsupported"),
        (b"/\xff\0\0", "UTF-8"),
        (b"#bundle\0" + bytes(8), "bundles"),
    ],
)
def test_decode_rejects_malformed(data: bytes, why: str) -> None:
    with pytest.raises(OscError, match=why):
        decode_message(data)


def test_encode_rejects_bad_address_and_types() -> None:
    with pytest.raises(OscError, match="start with '/'"):
        encode_message("rain/ping")
    with pytest.raises(OscError, match="dict"):
        encode_message("/rain/ping", [{}])


def test_parse_reply() -> None:
    ok = encode_message("/rain/reply", ["/rain/pause", "ok", "paused"])
    assert parse_reply(ok).ok and parse_reply(ok).message == "paused"
    error = encode_message("/rain/reply", ["/rain/character", "error", "no such character"])
    assert parse_reply(error).ok is False
    assert parse_reply(encode_message("/rain/other", ["a", "ok", "b"])) is None
    assert parse_reply(encode_message("/rain/reply", [1, 2, 3])) is None
    assert parse_reply(b"\x00garbage") is None


# --- backoff, command line, status ------------------------------------------------------------


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(initial_s=1.0, factor=2.0, maximum_s=5.0, stable_s=30.0)
    assert [backoff.next_delay(0.5) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.next_delay(30.0) == 1.0  # it ran long enough: a fresh crash, not a crash loop
    assert backoff.next_delay(1.0) == 2.0
    backoff.reset()
    assert backoff.next_delay(0.0) == 1.0


def test_daemon_command_for_python_and_for_the_executable() -> None:
    settings = ScriptSettings(
        executable="/venv/bin/python3", config="/c/daemon.yaml", extra_args='--ndi-name "My Rig"', port=9123, token="t"
    )
    assert daemon_command(settings, lambda _: None) == [
        "/venv/bin/python3", "-m", "rain_vtuber.cli.main", "daemon", "--control-port", "9123",
        "--config", "/c/daemon.yaml", "--token", "t", "--ndi-name", "My Rig",
    ]  # fmt: skip
    on_path = daemon_command(ScriptSettings(), lambda name: f"/usr/bin/{name}")
    assert on_path == ["/usr/bin/rain-vtuber", "daemon", "--control-port", "9050"]
    with pytest.raises(ValueError, match="not on PATH"):
        daemon_command(ScriptSettings(), lambda _: None)


def test_extra_args_split_like_the_users_shell() -> None:
    assert split_args('--ndi-name "My Rig" --fps 24', windows=False) == ["--ndi-name", "My Rig", "--fps", "24"]
    windows = split_args(r'--config "C:\My Rig\s.yaml" --weights C:\w', windows=True)
    assert windows == ["--config", r"C:\My Rig\s.yaml", "--weights", r"C:\w"]


def test_daemon_runs_next_to_its_config_or_in_home(tmp_path) -> None:
    assert daemon_workdir(ScriptSettings(config=str(tmp_path / "stream.yaml"))) == str(tmp_path)
    assert daemon_workdir(ScriptSettings()) == str(Path.home())


def test_status_from_the_daemon_json() -> None:
    status = parse_status(json.dumps(REAL_STATUS))
    assert status.characters == ("alice", "bob")
    line = format_status(ProcState.RUNNING, status)
    assert line == (
        "running | streaming | alice | 12.0 fps | 183 ms | face tracking | NDI 'HOST (RAIN VTuber)'"
    )
    starting = parse_status(json.dumps({"state": "warming up", "error": "no weights", "characters": {}}))
    assert format_status(ProcState.RUNNING, starting) == "running | warming up | no weights"
    assert parse_status("[1, 2]") is None and parse_status("not json") is None
    assert format_status(ProcState.RUNNING, None) == "running | waiting for the daemon"
    assert format_status(ProcState.WAITING, None, "daemon exited with code 1") == (
        "restarting | daemon exited with code 1"
    )


# --- control client on real sockets -------------------------------------------------------------


def test_client_sends_token_first_and_polls_without_blocking() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(2.0)
    client = ControlClient(server.getsockname()[1], token="s3cret")
    try:
        began = time.perf_counter()
        assert client.poll() == []
        assert time.perf_counter() - began < 0.05
        assert client.send("/rain/character", "bob")
        data, sender = server.recvfrom(65536)
        msg = OscMessage(data)
        assert (msg.address, msg.params) == ("/rain/character", ["s3cret", "bob"])
        server.sendto(b"junk", sender)
        builder = OscMessageBuilder("/rain/reply")
        for arg in ("/rain/character", "ok", "character bob"):
            builder.add_arg(arg)
        server.sendto(builder.build().dgram, sender)
        replies: list = []
        assert until(lambda: replies.extend(client.poll()) or replies, 2.0)
        assert replies[0].command == "/rain/character" and replies[0].ok
        assert client.bad_packets == 1
    finally:
        client.close()
        server.close()


def test_client_poll_survives_a_closed_port(port) -> None:
    client = ControlClient(port)
    try:
        assert client.send("/rain/status")
        time.sleep(0.05)
        assert client.poll() == []
    finally:
        client.close()


# --- supervisor with real processes ----------------------------------------------------------


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
    assert until(lambda: "listening" in (sup.log_path.read_text() if sup.log_path.exists() else ""), 10.0)


def test_graceful_stop(port, recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path)
    sup.start(_fake_daemon_command(port))
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
    sup.start(_fake_daemon_command(port))
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
    sup.start(_fake_daemon_command(port, *flags))
    _wait_listening(sup)
    sup.stop()
    assert sup.state == ProcState.STOPPING
    assert until(lambda: sup.state == ProcState.STOPPED, 5.0, sup.tick)
    assert sup.proc.returncode == code
    assert recorder.requests == 1  # the daemon acknowledged it: asking again would not help
    assert f"daemon stopped (code {code}, {step})" in recorder.lines


def test_crash_restarts_with_backoff_and_reports_why(port, recorder, supervisors, tmp_path) -> None:
    backoff = Backoff(initial_s=0.3, factor=2.0, maximum_s=1.0)
    sup = _supervisor(recorder, supervisors, tmp_path, backoff=backoff)
    sup.start(_fake_daemon_command(port, "--exit-after", "0.5"))
    first = sup.pid
    assert until(lambda: sup.state == ProcState.WAITING, 10.0, sup.tick)
    assert "crashed on purpose" in sup.last_error and "code 3" in sup.last_error
    died = time.monotonic()
    assert until(lambda: sup.state == ProcState.RUNNING, 5.0, sup.tick)
    assert time.monotonic() - died >= 0.25  # waited out the backoff
    assert sup.pid != first and sup.restarts == 1
    assert until(lambda: sup.state == ProcState.WAITING, 10.0, sup.tick)
    assert "restarting the daemon in 0.6 s" in recorder.lines  # second crash in a row: doubled
    sup.stop()
    assert sup.state == ProcState.STOPPED  # stop while waiting cancels the restart
    time.sleep(0.7)
    sup.tick()
    assert sup.state == ProcState.STOPPED


def test_restart_replaces_the_process(port, recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path)
    sup.start(_fake_daemon_command(port))
    first = sup.proc
    _wait_listening(sup)
    sup.restart(_fake_daemon_command(port))
    assert sup.state == ProcState.STOPPING
    assert until(lambda: sup.state == ProcState.RUNNING and sup.proc is not first, 5.0, sup.tick)
    assert first.returncode == 0


def test_unstartable_executable_is_retried_not_raised(recorder, supervisors, tmp_path) -> None:
    sup = _supervisor(recorder, supervisors, tmp_path, backoff=Backoff(initial_s=10.0))
    sup.start([str(tmp_path / "no-such-rain-vtuber"), "daemon"])
    assert sup.state == ProcState.WAITING
    assert sup.last_error.startswith("cannot start")
    assert "restarting the daemon in 10.0 s" in recorder.lines


# --- controller ---------------------------------------------------------------------------------


def test_controller_talks_to_the_daemon_it_started(port, fake_daemon_exe, tmp_path) -> None:
    lines: list[str] = []
    controller = Controller(lines.append, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(executable=str(fake_daemon_exe), port=port))
    try:
        controller.start()
        assert until(lambda: controller.characters() == ("alice", "bob"), 10.0, controller.tick)
        assert controller.status_line().startswith("running | streaming | alice")
        controller.send("/rain/character", "bob")
        assert until(lambda: controller.status.character == "bob", 3.0, controller.tick)
        controller.send("/rain/character", "zed")
        assert until(lambda: controller.last_error, 3.0, controller.tick)
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
        _fake_daemon_command(port, "--host", REMOTE, "--token", "lan"), stdout=subprocess.PIPE, text=True
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
    assert until(lambda: controller.characters() == ("alice", "bob"), 5.0, controller.tick)
    assert controller.status_line().startswith(f"remote {REMOTE}:{port} | streaming | alice | 12.5 fps")
    controller.send("/rain/character", "bob")
    assert until(lambda: controller.status.character == "bob", 3.0, controller.tick)
    controller.stop()
    controller.restart()
    controller.shutdown()
    assert controller.supervisor.proc is None and remote_daemon.poll() is None  # never spawned, never stopped
    assert any("not started by OBS" in line for line in lines)


def test_remote_daemon_with_another_token_shows_its_refusal(port, remote_daemon, tmp_path) -> None:
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="guess"))
    controller.start()
    assert until(lambda: controller.last_error, 3.0, controller.tick)
    assert controller.status_line() == f"remote {REMOTE}:{port} | /rain/status: missing or wrong token"
    controller.configure(ScriptSettings(host=REMOTE, port=port, token="lan"))  # applies at once
    assert until(lambda: controller.status is not None, 3.0, controller.tick)
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


def test_host_names_are_looked_up_off_the_calling_thread() -> None:
    assert HostLookup("10.0.0.7").address == "10.0.0.7"  # an address needs no lookup
    found, missing = HostLookup("localhost"), HostLookup("no-such-host.invalid")
    assert until(lambda: found.address and missing.error, 10.0)
    assert found.address.startswith("127.") and missing.address is None
    assert missing.error.startswith("cannot find the daemon PC 'no-such-host.invalid'")


def test_remote_daemon_pc_that_cannot_be_found_says_so(port, tmp_path) -> None:
    controller = Controller(lambda _: None, lambda _: None, log_dir=tmp_path)
    controller.configure(ScriptSettings(host="no-such-host.invalid", port=port))
    controller.start()
    assert until(lambda: "cannot find" in controller.status_line(), 10.0, controller.tick)
    assert controller.status_line().startswith(f"remote no-such-host.invalid:{port} | cannot find the daemon PC")
    assert controller.client is None
    controller.shutdown()


def test_client_ignores_replies_that_do_not_come_from_the_daemon_port(port) -> None:
    client = ControlClient(port)
    reply = OscMessageBuilder("/rain/reply")
    for arg in ("/rain/shutdown", "ok", "bye"):
        reply.add_arg(arg)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.1", 0))
            stranger.sendto(reply.build().dgram, client._sock.getsockname())
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
                daemon.bind(("127.0.0.1", port))
                daemon.sendto(reply.build().dgram, client._sock.getsockname())
                replies: list = []
                assert until(lambda: replies.extend(client.poll()) or replies, 2.0)
        time.sleep(0.05)
        replies.extend(client.poll())
        assert len(replies) == 1 and client.bad_packets == 0  # the stranger's copy was dropped, not counted
    finally:
        client.close()
