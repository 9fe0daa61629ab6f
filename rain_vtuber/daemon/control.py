"""OSC control server: /rain/* commands over UDP (127.0.0.1 unless told), one reply per message to its sender.

Transport and routing only; what each command does lives in the daemon's command table. Every message
gets an answer ("/rain/reply", command, "ok"|"error", text) and every rejected one a log line, so a
Stream Deck button or a script never waits on silence. A port other machines can reach (another PC
running OBS) needs a token: anyone on the LAN could otherwise switch or stop the stream.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from rain_vtuber.errors import RainError
from rain_vtuber.osc_guard import bundle_problem
from rain_vtuber.utils.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

REPLY_ADDRESS = "/rain/reply"
HOST = "127.0.0.1"
DEFAULT_CONTROL_PORT = 9050  # UDP; the OBS script (standard library only) keeps its own copy


@dataclass(frozen=True)
class Command:
    """One control address: its handler and the argument types it takes (after the token)."""

    run: Callable[..., str]
    params: tuple[type, ...] = ()
    usage: str = ""


def resolve_host(host: str) -> str:
    """A host name or IPv4 address -> the IPv4 address to bind or send to ("" and 0.0.0.0: every interface)."""
    if host in ("", "0.0.0.0"):
        return "0.0.0.0"
    try:
        return socket.gethostbyname(host)
    except (OSError, UnicodeError):
        raise RainError(f"control host '{host}' is not an IPv4 address or a name this machine can resolve") from None


def is_loopback(address: str) -> bool:
    """True for 127.x.x.x: only programs on this machine can reach a port bound there."""
    return ipaddress.ip_address(address).is_loopback


def require_token_off_loopback(host: str, token: str | None) -> str:
    """Resolve `host`; refuse a LAN-reachable control port without a token (one line that says how to set one)."""
    address = resolve_host(host)
    if not is_loopback(address) and not token:
        raise RainError(
            f"control host {host or address} is reachable from other machines, so the control port needs a token: "
            "add `token: <secret>` to the daemon config or pass --token <secret> "
            "(the OBS script and `rain-vtuber ctl --token` then send the same)"
        )
    return address


def build_message(address: str, *args: Any) -> bytes:
    """An OSC message as bytes (strings, ints and floats)."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def parse_reply(data: bytes) -> tuple[str, str, str]:
    """A /rain/reply datagram -> (command, "ok"|"error", text)."""
    msg = OscMessage(data)
    if msg.address != REPLY_ADDRESS or len(msg.params) != 3:
        raise RainError(f"unexpected reply {msg.address} {msg.params!r}")
    command, status, text = msg.params
    return str(command), str(status), str(text)


class ControlServer:
    """Binds the control port at construction (a second daemon fails here) and serves it in a thread."""

    def __init__(
        self, port: int, commands: Mapping[str, Command], token: str | None = None, host: str = HOST
    ) -> None:
        self.host = require_token_off_loopback(host, token)
        self.port = port
        self.commands = dict(commands)
        self.token = token
        self.rejected = 0
        self.warn = RateLimitedLog(log)  # a flood of bad packets must not become a flood of log lines
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token_log = RateLimitedLog(log)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((self.host, port))
        except OSError as err:
            self._sock.close()
            if err.errno in (errno.EADDRINUSE, errno.EACCES) or getattr(err, "winerror", 0) == 10048:
                raise RainError(
                    f"control port {port} on {self.host} is already in use: another rain-vtuber daemon is running "
                    f"(stop it with `rain-vtuber ctl shutdown --port {port}`) or pick another port "
                    "with --control-port"
                ) from None
            raise RainError(
                f"cannot open the control port {self.host}:{port}: {err.strerror or err} "
                "(control_host must be an address of this machine, or 0.0.0.0 for all)"
            ) from None
        self._sock.settimeout(0.2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="rain-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                log.exception("control socket failed")
                continue
            try:
                for address, status, text in self.handle_datagram(data, sender):
                    self._sock.sendto(build_message(REPLY_ADDRESS, address, status, text), sender)
            except Exception:  # never let one packet take the control thread down
                log.exception("control: failed to answer %s", sender)

    def handle_datagram(self, data: bytes, sender: Any = None) -> list[tuple[str, str, str]]:
        """Datagram -> one (address, status, text) reply per message it carries."""
        if problem := bundle_problem(data):
            return [self._reject("", f"malformed OSC packet ({len(data)} bytes): {problem}")]
        try:
            packet = OscPacket(data)
        except Exception as err:  # python-osc raises ParseError and, on some garbage, UnicodeDecodeError and others
            return [self._reject("", f"malformed OSC packet ({len(data)} bytes): {err}")]
        return [self.handle(timed.message.address, list(timed.message.params), sender) for timed in packet.messages]

    def handle(self, address: str, args: list[Any], sender: Any = None) -> tuple[str, str, str]:
        """Check token, address and arguments, run the command; errors become error replies."""
        if self.token is not None:
            if not args or not isinstance(args[0], str) or not hmac.compare_digest(args[0].encode(), self.token.encode()):
                self.rejected += 1  # logged at most every few seconds: a LAN scanner must not flood the log
                self._token_log.warning("token", "control: rejected %s from %s: missing or wrong token", address, sender)
                return address, "error", "missing or wrong token: pass the daemon's token as the first argument"
            args = args[1:]
        command = self.commands.get(address)
        if command is None:
            return self._reject(address, f"unknown address {address}; known: {', '.join(sorted(self.commands))}")
        if len(args) != len(command.params) or not all(isinstance(a, t) for a, t in zip(args, command.params)):
            want = command.usage or (" ".join(t.__name__ for t in command.params) or "no arguments")
            return self._reject(address, f"bad arguments {args!r}: {address} takes {want}")
        try:
            return address, "ok", command.run(*args)
        except RainError as err:
            self.warn.warning(f"failed:{address}", "control %s failed: %s", address, err)
            return address, "error", str(err)
        except Exception as err:
            log.exception("control %s crashed", address)
            return address, "error", f"internal error: {err}"

    def _reject(self, address: str, why: str) -> tuple[str, str, str]:
        self.rejected += 1
        self.warn.warning(why.split(" ", 1)[0], "control: rejected %s: %s", address or "packet", why)
        return address, "error", why


def send_command(
    address: str, *args: Any, port: int = DEFAULT_CONTROL_PORT, token: str | None = None, timeout: float = 3.0, host: str = HOST
) -> tuple[str, str]:
    """Client side: send one command to a daemon and wait for its reply -> ("ok"|"error", text).

    Datagrams from other ports are ignored (the address is not compared: a daemon bound to 0.0.0.0 on a
    PC with several networks may answer from another of its addresses).
    """
    payload = ((token,) if token is not None else ()) + args
    daemon = (resolve_host(host), port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST if is_loopback(daemon[0]) else "0.0.0.0", 0))
        sock.settimeout(timeout)
        sock.sendto(build_message(address, *payload), daemon)
        try:
            while True:
                data, sender = sock.recvfrom(65536)
                if sender[1] != port:
                    continue
                command, status, text = parse_reply(data)
                if command == address:
                    return status, text
        except socket.timeout:
            raise RainError(
                f"no reply from a rain-vtuber daemon on {host}:{port} within {timeout:g} s: "
                "is `rain-vtuber daemon` running there on that --port (and, on another PC, with "
                "--control-host and the port open in its firewall)?"
            ) from None
        except ConnectionResetError:  # Windows reports the ICMP port-unreachable here
            raise RainError(f"nothing listens on {host}:{port}: start `rain-vtuber daemon` first") from None
