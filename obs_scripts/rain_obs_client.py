"""The OBS script's client of the daemon's control port: OSC over UDP, never blocking.

Sends `/rain/...` commands (token first when one is set) and reads `/rain/reply (command, ok|error,
text)` datagrams whenever the caller polls. A daemon PC given by name is looked up on a thread, so
no call waits on DNS. Standard library only (OBS's embedded Python).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import List, Optional

from rain_obs_osc import OscArg, OscError, decode_message, encode_message

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """One `/rain/reply` from the daemon: which command it answers, ok or not, and the text."""

    command: str
    ok: bool
    message: str


class ControlClient:
    """Non-blocking UDP OSC client of the daemon's control port; replies are read by `poll()`."""

    def __init__(self, port: int, token: str = "", host: str = LOCAL_HOST) -> None:
        """`host` is an IPv4 address (see HostLookup for names): sending never waits on DNS."""
        self.address = (host, port)
        self.token = token
        self.bad_packets = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.bind((host if is_loopback(host) else "0.0.0.0", 0))

    def send(self, address: str, *args: OscArg) -> bool:
        """Send one command (token first when configured); False when the OS refused it."""
        full_args = (self.token, *args) if self.token else args
        try:
            self._sock.sendto(encode_message(address, full_args), self.address)
        except OSError:
            return False
        return True

    def poll(self, limit: int = 64) -> List[Reply]:
        """Every reply waiting in the socket, without blocking; malformed ones are counted."""
        replies: List[Reply] = []
        for _ in range(limit):
            try:
                data, sender = self._sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, ConnectionRefusedError):
                continue  # Windows reports an earlier send to a closed port here
            except OSError:
                break
            if sender[1] != self.address[1]:
                continue  # only the daemon's port (a daemon on 0.0.0.0 may answer from another address)
            reply = parse_reply(data)
            if reply is None:
                self.bad_packets += 1
            else:
                replies.append(reply)
        return replies

    def close(self) -> None:
        self._sock.close()


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class HostLookup:
    """The daemon PC's address, resolved on a thread: a DNS lookup can take seconds and OBS must not wait."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.error = ""
        self.address: Optional[str] = None
        try:
            self.address = str(ipaddress.IPv4Address(host))
        except ValueError:
            threading.Thread(target=self._resolve, name="rain-host-lookup", daemon=True).start()

    def _resolve(self) -> None:
        try:
            self.address = socket.gethostbyname(self.host)
        except (OSError, UnicodeError) as err:
            self.error = f"cannot find the daemon PC '{self.host}': {err}"


def parse_reply(data: bytes) -> Optional[Reply]:
    """A `/rain/reply (command, "ok"|"error", message)` datagram -> Reply, anything else -> None."""
    try:
        address, args = decode_message(data)
    except OscError:
        return None
    if address != "/rain/reply" or len(args) < 2 or not all(isinstance(a, str) for a in args[:3]):
        return None
    message = str(args[2]) if len(args) > 2 else ""
    return Reply(command=str(args[0]), ok=args[1] == "ok", message=message)
