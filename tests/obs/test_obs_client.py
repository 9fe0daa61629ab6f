"""rain_obs_client: replies, the non-blocking control client on real UDP sockets, host lookup."""

from __future__ import annotations

import socket
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_obs_client import ControlClient, HostLookup, parse_reply
from rain_obs_osc import encode_message
from tests.waiting import wait_until


def test_parse_reply() -> None:
    ok = encode_message("/rain/reply", ["/rain/pause", "ok", "paused"])
    assert parse_reply(ok).ok and parse_reply(ok).message == "paused"
    error = encode_message("/rain/reply", ["/rain/character", "error", "no such character"])
    assert parse_reply(error).ok is False
    assert parse_reply(encode_message("/rain/other", ["a", "ok", "b"])) is None
    assert parse_reply(encode_message("/rain/reply", [1, 2, 3])) is None
    assert parse_reply(b"\x00garbage") is None



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
        wait_until(lambda: replies.extend(client.poll()) or replies, 2.0)
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



def test_host_names_are_looked_up_off_the_calling_thread() -> None:
    assert HostLookup("10.0.0.7").address == "10.0.0.7"  # an address needs no lookup
    found, missing = HostLookup("localhost"), HostLookup("no-such-host.invalid")
    wait_until(lambda: found.address and missing.error, 10.0)
    assert found.address.startswith("127.") and missing.address is None
    assert missing.error.startswith("cannot find the daemon PC 'no-such-host.invalid'")



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
                wait_until(lambda: replies.extend(client.poll()) or replies, 2.0)
        time.sleep(0.05)
        replies.extend(client.poll())
        assert len(replies) == 1 and client.bad_packets == 0  # the stranger's copy was dropped, not counted
    finally:
        client.close()
