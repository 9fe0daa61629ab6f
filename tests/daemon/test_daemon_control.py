"""ControlServer over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from rain_vtuber.daemon.control import Command, ControlServer, build_message, parse_reply, send_command
from rain_vtuber.errors import RainError


@pytest.fixture
def server(udp_port: int) -> Iterator[ControlServer]:
    calls: list[str] = []

    def fail() -> str:
        raise RainError("character 'x' is not ready")

    commands = {
        "/rain/ping": Command(lambda: "pong"),
        "/rain/character": Command(lambda name: calls.append(name) or f"character {name}", (str,), "one character name"),
        "/rain/status": Command(lambda: json.dumps({"calls": calls})),
        "/rain/fail": Command(fail),
    }
    srv = ControlServer(udp_port, commands)
    srv.start()
    yield srv
    srv.close()


def _raw(port: int, data: bytes) -> tuple[str, str, str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(data, ("127.0.0.1", port))
        return parse_reply(sock.recvfrom(65536)[0])


def test_commands_reply_to_the_sender(server: ControlServer) -> None:
    assert send_command("/rain/ping", port=server.port) == ("ok", "pong")
    assert send_command("/rain/character", "alice", port=server.port) == ("ok", "character alice")
    status, text = send_command("/rain/status", port=server.port)
    assert status == "ok" and json.loads(text) == {"calls": ["alice"]}
    assert send_command("/rain/fail", port=server.port) == ("error", "character 'x' is not ready")


def test_unknown_address_bad_args_and_garbage_get_error_replies(server: ControlServer, caplog) -> None:
    status, text = send_command("/rain/dance", port=server.port)
    assert status == "error" and "unknown address /rain/dance" in text and "/rain/ping" in text
    status, text = send_command("/rain/character", port=server.port)
    assert status == "error" and "takes one character name" in text
    status, text = send_command("/rain/character", 3, port=server.port)
    assert status == "error" and "bad arguments [3]" in text
    status, text = send_command("/rain/ping", "extra", port=server.port)
    assert status == "error"
    truncated = (b"/rain/character\x00,s\x00\x00", b"/rain/ping\x00\x00,i\x00\x00\x00\x01")
    for garbage in (b"hello", *truncated, b"\xff" * 40, b"#bundle\x00" + b"\x01" * 3):
        address, status, text = _raw(server.port, garbage)
        assert (address, status) == ("", "error") and "malformed OSC packet" in text
    assert server.rejected == 9
    assert "rejected" in caplog.text
    assert send_command("/rain/ping", port=server.port) == ("ok", "pong")  # still serving


def test_token_is_required_when_configured(udp_port: int) -> None:
    srv = ControlServer(udp_port, {"/rain/ping": Command(lambda: "pong")}, token="s3cret")
    srv.start()
    try:
        assert send_command("/rain/ping", port=udp_port)[0] == "error"
        assert send_command("/rain/ping", port=udp_port, token="wrong")[0] == "error"
        assert send_command("/rain/ping", port=udp_port, token="s3cret") == ("ok", "pong")
        assert _raw(udp_port, build_message("/rain/ping", 1))[1] == "error"
    finally:
        srv.close()


def test_second_server_on_the_same_port_fails_clearly(server: ControlServer) -> None:
    with pytest.raises(RainError, match=f"control port {server.port} .* already in use"):
        ControlServer(server.port, {})


def test_client_times_out_clearly_when_no_daemon(udp_port: int) -> None:
    with pytest.raises(RainError, match="no reply from a rain-vtuber daemon"):
        send_command("/rain/ping", port=udp_port, timeout=0.3)


@pytest.mark.parametrize("host", ["0.0.0.0", ""])
def test_lan_reachable_port_without_token_is_refused(udp_port: int, host: str) -> None:
    with pytest.raises(RainError, match=r"needs a token: add `token: <secret>` .* --token <secret>") as err:
        ControlServer(udp_port, {}, host=host)
    assert "\n" not in str(err.value)


def test_unresolvable_control_host_is_one_clear_line(udp_port: int) -> None:
    with pytest.raises(RainError, match="control host 'no-such-host.invalid' is not an IPv4 address"):
        ControlServer(udp_port, {}, token="t", host="no-such-host.invalid")


def test_lan_port_with_token_refuses_and_rate_limits_bad_tokens_and_answers_only_the_sender(
    udp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    srv = ControlServer(udp_port, {"/rain/ping": Command(lambda: "pong")}, token="s3cret", host="0.0.0.0")
    srv.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bystander:
            bystander.bind(("127.0.0.1", 0))
            bystander.settimeout(0.3)
            for token in [None, "wrong"] * 10:
                status, text = send_command("/rain/ping", port=udp_port, token=token, host="localhost")
                assert status == "error" and "missing or wrong token" in text
            assert send_command("/rain/ping", port=udp_port, token="s3cret") == ("ok", "pong")
            with pytest.raises(socket.timeout):
                bystander.recvfrom(65536)  # nobody but each sender heard a reply
    finally:
        srv.close()
    assert srv.rejected == 20
    logged = [r for r in caplog.records if "missing or wrong token" in r.getMessage()]
    assert 1 <= len(logged) <= 2, [r.getMessage() for r in logged]


def test_control_host_that_is_not_this_machine_is_one_clear_line(udp_port: int) -> None:
    with pytest.raises(RainError, match=r"cannot open the control port 192\.0\.2\.123:\d+: .*address of this machine"):
        ControlServer(udp_port, {}, token="t", host="192.0.2.123")


def test_cli_start_up_imports_no_torch() -> None:
    """`rain-vtuber ctl` on a streaming PC (or a Stream Deck button) must answer in a blink, not load torch."""
    code = "import sys; from rain_vtuber.cli.main import _register; _register(); print('torch' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
