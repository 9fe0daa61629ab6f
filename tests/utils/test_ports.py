"""free_port: the one free-port helper (soak, device check, tests) hands out a port that binds."""

from __future__ import annotations

import socket

import pytest

from rain_vtuber.utils.ports import free_port


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_the_port_binds_for_its_kind(kind: str) -> None:
    port = free_port(kind)  # type: ignore[arg-type]
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, {"udp": socket.SOCK_DGRAM, "tcp": socket.SOCK_STREAM}[kind]) as sock:
        sock.bind(("127.0.0.1", port))
        assert sock.getsockname() == ("127.0.0.1", port)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'udp' or 'tcp', got 'sctp'"):
        free_port("sctp")  # type: ignore[arg-type]
