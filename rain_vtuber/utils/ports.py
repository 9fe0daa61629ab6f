"""A port nothing listens on right now, for the soak tool, the device check and the tests.

The operating system picks it (bind to port 0); the socket is closed before the port is returned,
so a caller must bind it soon: another program may take it in between.
"""

from __future__ import annotations

import socket
from typing import Literal

_SOCKET_TYPES = {"udp": socket.SOCK_DGRAM, "tcp": socket.SOCK_STREAM}


def free_port(kind: Literal["udp", "tcp"] = "udp", host: str = "127.0.0.1") -> int:
    """A `kind` port on `host` that was free a moment ago."""
    if kind not in _SOCKET_TYPES:
        raise ValueError(f"free_port kind must be 'udp' or 'tcp', got {kind!r}")
    with socket.socket(socket.AF_INET, _SOCKET_TYPES[kind]) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
