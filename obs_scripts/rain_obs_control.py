"""Standard-library core of the RAIN VTuber OBS script: OSC codec, control client, daemon supervisor.

The daemon runs on this PC (the script starts, restarts and stops it) or on another PC (the `host`
setting: the script only controls it, never starts or stops it).

OBS runs scripts in its own embedded Python, where neither python-osc nor rain_vtuber is
installed, so this module uses the standard library only. Nothing here blocks: the OBS script
calls `Controller.tick()` from a timer, and only `Controller.shutdown()` (script unload, OBS exit)
waits, with a time limit. Kept free of `obspython` so unit tests import it directly.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

OscArg = Union[str, int, float, bool, bytes, None]

DEFAULT_PORT = 9050
LOCAL_HOST = "127.0.0.1"
STATUS_INTERVAL_S = 1.0
STATUS_STALE_S = 3.5
LOG_TAIL_BYTES = 4096
RESEND_S = 0.5  # how often a stopping daemon is asked again to shut down
SEND_WAIT_S = 0.2  # longest a hotkey waits for the controller (busy only while shutting down)


# --- OSC 1.0 codec (only what the control protocol needs) -----------------------------------


class OscError(ValueError):
    """A datagram that is not a well-formed OSC message."""


def _osc_string(text: str) -> bytes:
    """UTF-8, NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def _osc_blob(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data + b"\0" * (-len(data) % 4)


def encode_message(address: str, args: Sequence[OscArg] = ()) -> bytes:
    """Address + args -> one OSC message (tags i, f, s, b, T, F, N)."""
    if not address.startswith("/"):
        raise OscError(f"OSC address must start with '/': {address!r}")
    tags = ","
    payload = b""
    for arg in args:
        if arg is None:
            tags += "N"
        elif isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int):
            tags += "i"
            payload += struct.pack(">i", arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += struct.pack(">f", arg)
        elif isinstance(arg, str):
            tags += "s"
            payload += _osc_string(arg)
        elif isinstance(arg, bytes):
            tags += "b"
            payload += _osc_blob(arg)
        else:
            raise OscError(f"cannot encode OSC argument of type {type(arg).__name__}")
    return _osc_string(address) + _osc_string(tags) + payload


def _read_string(data: bytes, pos: int) -> Tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscError("unterminated OSC string")
    try:
        text = data[pos:end].decode("utf-8")
    except UnicodeDecodeError as err:
        raise OscError(f"OSC string is not UTF-8: {err}") from None
    return text, end + 1 + (-(end + 1 - pos) % 4)


def _read_fixed(data: bytes, pos: int, fmt: str) -> Tuple[object, int]:
    size = struct.calcsize(fmt)
    if pos + size > len(data):
        raise OscError("OSC message ends inside an argument")
    return struct.unpack_from(fmt, data, pos)[0], pos + size


_FIXED = {"i": ">i", "f": ">f", "d": ">d", "h": ">q", "t": ">Q"}
_CONSTANTS = {"T": True, "F": False, "N": None, "I": float("inf")}


def decode_message(data: bytes) -> Tuple[str, List[OscArg]]:
    """One OSC message -> (address, args); raises OscError on anything malformed (bundles too)."""
    if data.startswith(b"#bundle"):
        raise OscError("OSC bundles are not supported by this client")
    address, pos = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscError(f"OSC address must start with '/': {address!r}")
    if pos >= len(data):
        return address, []
    tags, pos = _read_string(data, pos)
    if not tags.startswith(","):
        raise OscError(f"OSC type tags must start with ',': {tags!r}")
    args: List[OscArg] = []
    for tag in tags[1:]:
        if tag in _FIXED:
            value, pos = _read_fixed(data, pos, _FIXED[tag])
            args.append(value)  # type: ignore[arg-type]
        elif tag in "sS":
            text, pos = _read_string(data, pos)
            args.append(text)
        elif tag == "b":
            size, pos = _read_fixed(data, pos, ">i")
            end = pos + int(size)  # type: ignore[call-overload]
            if int(size) < 0 or end > len(data):  # type: ignore[call-overload]
                raise OscError("OSC blob runs past the end of the message")
            args.append(data[pos:end])
            pos = end + (-int(size) % 4)  # type: ignore[call-overload]
        elif tag in _CONSTANTS:
            args.append(_CONSTANTS[tag])  # type: ignore[arg-type]
        else:
            raise OscError(f"unsupported OSC type tag {tag!r}")
    return address, args


# --- control client ------------------------------------------------------------------------


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
        self._sock.bind((host if _is_loopback(host) else "0.0.0.0", 0))

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


def _is_loopback(address: str) -> bool:
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


# --- restart backoff and process supervisor --------------------------------------------------


@dataclass
class Backoff:
    """Exponential restart delay; a child that ran `stable_s` or longer starts over at `initial_s`."""

    initial_s: float = 1.0
    factor: float = 2.0
    maximum_s: float = 30.0
    stable_s: float = 30.0
    _next_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._next_s = self.initial_s

    def next_delay(self, ran_for_s: float) -> float:
        """Delay before the next start, given how long the child that just died had run."""
        if ran_for_s >= self.stable_s:
            self.reset()
        delay = self._next_s
        self._next_s = min(self._next_s * self.factor, self.maximum_s)
        return delay


class ProcState:
    STOPPED = "stopped"
    RUNNING = "running"
    STOPPING = "stopping"
    WAITING = "restarting"


def _log_tail(path: Optional[Path]) -> str:
    """Last non-empty line of the child's log file, to say why it died."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - LOG_TAIL_BYTES))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


class Supervisor:
    """Keeps one child process alive: start, restart with backoff, stop by escalation.

    Everything is driven by `tick()`; stopping goes graceful request -> terminate -> kill, each
    step after its time limit, so no call waits except `stop_and_wait()`. `request_shutdown` asks
    the child to exit and returns True once the child has acknowledged an earlier request; until
    then it is called again every RESEND_S (a child still starting up may not be listening yet).
    """

    def __init__(
        self,
        request_shutdown: Callable[[], bool],
        log: Callable[[str], None],
        *,
        backoff: Optional[Backoff] = None,
        grace_s: float = 3.0,
        terminate_s: float = 2.0,
        log_path: Optional[Path] = None,
    ) -> None:
        self._request_shutdown = request_shutdown
        self._log = log
        self.backoff = backoff or Backoff()
        self.grace_s = grace_s
        self.terminate_s = terminate_s
        self.log_path = log_path
        self._clock = time.monotonic
        self.state = ProcState.STOPPED
        self.proc: Optional[subprocess.Popen] = None
        self.command: List[str] = []
        self.cwd: Optional[str] = None
        self.restarts = 0
        self.last_error = ""
        self._want_running = False
        self._started_at = 0.0
        self._stop_began = 0.0
        self._asked_at = 0.0
        self._acknowledged = False
        self._stop_step = ""
        self._restart_at = 0.0

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def start(self, command: List[str], cwd: Optional[str] = None) -> None:
        """Run `command` (in `cwd`) and keep it running; a running child is left alone."""
        self.command, self.cwd = list(command), cwd
        self._want_running = True
        self.backoff.reset()
        if self.state in (ProcState.STOPPED, ProcState.WAITING):
            self._spawn()

    def restart(self, command: List[str], cwd: Optional[str] = None) -> None:
        """Stop the child (if any), then run `command` (in `cwd`)."""
        self.command, self.cwd = list(command), cwd
        self._want_running = True
        self.backoff.reset()
        if self.state == ProcState.RUNNING:
            self._begin_stop()
        elif self.state in (ProcState.STOPPED, ProcState.WAITING):
            self._spawn()

    def stop(self) -> None:
        """Begin stopping the child; `tick()` escalates until it is gone."""
        self._want_running = False
        if self.state == ProcState.RUNNING:
            self._begin_stop()
        elif self.state == ProcState.WAITING:
            self.state = ProcState.STOPPED

    def stop_and_wait(self, poll_s: float = 0.05) -> None:
        """Stop and wait for the child to be gone: at most grace + terminate + ~1 s."""
        self.stop()
        deadline = self._clock() + self.grace_s + self.terminate_s + 2.0
        while self.state == ProcState.STOPPING and self._clock() < deadline:
            time.sleep(poll_s)
            self.tick()

    def tick(self) -> None:
        """Advance the state machine: notice deaths, escalate stops, restart when due."""
        now = self._clock()
        if self.state == ProcState.RUNNING and self._exited():
            self._on_death(now)
        elif self.state == ProcState.STOPPING:
            self._escalate(now)
        elif self.state == ProcState.WAITING and now >= self._restart_at:
            self.restarts += 1
            self._spawn()

    def _exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def _spawn(self) -> None:
        self.state = ProcState.RUNNING
        self._started_at = self._clock()
        try:
            self.proc = _popen(self.command, self.cwd, self.log_path)
        except (OSError, ValueError) as err:
            self.proc = None
            self.last_error = f"cannot start the daemon: {err}"
            self._log(self.last_error)
            self._on_death(self._started_at)
            return
        self.last_error = ""
        self._log(f"daemon started (pid {self.proc.pid}): {shlex.join(self.command)}")

    def _on_death(self, now: float) -> None:
        code = self.proc.returncode if self.proc is not None else None
        if self.proc is not None:
            why = _log_tail(self.log_path)
            self.last_error = f"daemon exited with code {code}" + (f"; last output: {why}" if why else "")
            self._log(self.last_error)
        if not self._want_running:
            self.state = ProcState.STOPPED
            return
        delay = self.backoff.next_delay(now - self._started_at)
        self._restart_at = now + delay
        self.state = ProcState.WAITING
        self._log(f"restarting the daemon in {delay:.1f} s")

    def _begin_stop(self) -> None:
        self.state = ProcState.STOPPING
        self._stop_began = self._clock()
        self._stop_step = "graceful"
        self._asked_at = self._stop_began
        self._acknowledged = self._request_shutdown()

    def _escalate(self, now: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            self._log(f"daemon stopped (code {self.proc.returncode}, {self._stop_step})")
            self.state = ProcState.STOPPED
            if self._want_running:
                self._spawn()
            return
        waited = now - self._stop_began
        if self._stop_step == "graceful" and waited < self.grace_s and now - self._asked_at >= RESEND_S:
            self._asked_at = now
            if not self._acknowledged:
                self._acknowledged = self._request_shutdown()
        elif self._stop_step == "graceful" and waited >= self.grace_s:
            self._log(f"daemon ignored shutdown for {self.grace_s:.0f} s: terminating it")
            self._stop_step = "terminate"
            self.proc.terminate()
        elif self._stop_step == "terminate" and waited >= self.grace_s + self.terminate_s:
            self._log("daemon ignored terminate: killing it")
            self._stop_step = "kill"
            self.proc.kill()


def _popen(command: List[str], cwd: Optional[str], log_path: Optional[Path]) -> subprocess.Popen:
    """Start the child with output to its log file and no console window on Windows."""
    if not command:
        raise ValueError("no daemon command configured")
    out = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    finally:
        if out is not subprocess.DEVNULL:
            out.close()


# --- settings, command line, status --------------------------------------------------------


@dataclass(frozen=True)
class ScriptSettings:
    """What the user set in the script's properties."""

    executable: str = ""
    config: str = ""
    extra_args: str = ""
    port: int = DEFAULT_PORT
    token: str = ""
    autostart: bool = True
    host: str = ""  # empty or 127.0.0.1: the daemon on this PC, started by the script; else another PC's


def is_remote(settings: ScriptSettings) -> bool:
    """True when the daemon runs on another PC: the script controls it but never starts or stops it."""
    return settings.host.strip() not in ("", LOCAL_HOST, "localhost")


def _is_python(path: str) -> bool:
    name = Path(path).name.lower()
    return name.startswith("python") or name.startswith("pypy")


def daemon_command(settings: ScriptSettings, which: Callable[[str], Optional[str]]) -> List[str]:
    """Settings -> argv: a Python runs the module, anything else is the `rain-vtuber` executable.

    `which` finds `rain-vtuber` on PATH when no executable is set (shutil.which).
    """
    exe = settings.executable.strip() or which("rain-vtuber") or ""
    if not exe:
        raise ValueError("set the Python or rain-vtuber executable (rain-vtuber is not on PATH)")
    argv = [exe, "-m", "rain_vtuber.cli.main"] if _is_python(exe) else [exe]
    argv += ["daemon", "--control-port", str(settings.port)]
    if settings.config.strip():
        argv += ["--config", settings.config.strip()]
    if settings.token:
        argv += ["--token", settings.token]  # the daemon then expects exactly what the script sends
    return argv + split_args(settings.extra_args, windows=os.name == "nt")


def split_args(text: str, windows: bool) -> List[str]:
    """Extra arguments as typed -> argv; on Windows backslashes stay (paths) and quotes group words."""
    if not windows:
        return shlex.split(text)
    return [t[1:-1] if len(t) > 1 and t[0] == t[-1] == '"' else t for t in shlex.split(text, posix=False)]


def daemon_workdir(settings: ScriptSettings) -> str:
    """The daemon's working folder: the config's folder, else home (never OBS's own folder).

    The daemon's default characters/ and calibration/ folders are relative to it.
    """
    config = settings.config.strip()
    return str(Path(config).expanduser().parent) if config else str(Path.home())


@dataclass(frozen=True)
class DaemonStatus:
    """The part of the daemon's `/rain/status` JSON the script shows."""

    state: str = "?"
    character: str = ""
    characters: Tuple[str, ...] = ()
    fps: Optional[float] = None
    latency_ms: Optional[float] = None
    source_state: str = ""
    ndi_name: str = ""
    error: str = ""


def _number(value: object) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dict(value: object) -> Dict[str, object]:
    return value if isinstance(value, dict) else {}


def parse_status(text: str) -> Optional[DaemonStatus]:
    """Status JSON (keys as rain_vtuber.daemon.daemon.Daemon.status writes them) -> DaemonStatus.

    None when the text is not a JSON object.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return DaemonStatus(
        state=str(data.get("state") or "?"),
        character=str(data.get("character") or ""),
        characters=tuple(str(name) for name in _dict(data.get("characters"))),
        fps=_number(data.get("output_fps")),
        latency_ms=_number(data.get("latency_ms_p50")),
        source_state=str(_dict(data.get("source")).get("state") or ""),
        ndi_name=str(_dict(data.get("ndi")).get("name") or ""),
        error=str(data.get("error") or ""),
    )


def format_status(proc_state: str, status: Optional[DaemonStatus], error: str = "") -> str:
    """One status line: process state, then what the daemon says, then the last error."""
    parts = [proc_state]
    if status is not None:
        parts.append(status.state)
        if status.character:
            parts.append(status.character)
        if status.fps is not None:
            parts.append(f"{status.fps:.1f} fps")
        if status.latency_ms is not None:
            parts.append(f"{status.latency_ms:.0f} ms")
        if status.source_state:
            parts.append(f"face {status.source_state}")
        if status.ndi_name:
            parts.append(f"NDI '{status.ndi_name}'")
        error = error or status.error
    elif proc_state == ProcState.RUNNING:
        parts.append("waiting for the daemon")
    line = " | ".join(parts)
    return f"{line} | {error}" if error else line


# --- controller: what the OBS script drives --------------------------------------------------


class Controller:
    """Daemon lifecycle + control messages + status polling, behind one lock.

    OBS calls in from its UI thread (buttons), the scripting thread that runs hotkey callbacks
    and its graphics thread (timer), so every public method takes the lock; none of them waits
    on the network or the child, and the timer skips a tick rather than wait for the lock.
    """

    def __init__(
        self, log: Callable[[str], None], which: Callable[[str], Optional[str]], log_dir: Optional[Path] = None
    ) -> None:
        self._lock = threading.RLock()
        self._log = log
        self._which = which
        self._clock = time.monotonic
        self.settings = ScriptSettings()
        self.client: Optional[ControlClient] = None
        self._log_dir = log_dir
        self.supervisor = Supervisor(self._send_shutdown, log)
        self.status: Optional[DaemonStatus] = None
        self.last_error = ""
        self._status_at = -1e9
        self._status_sent_at = -1e9
        self._lookup: Optional[HostLookup] = None
        self._heard_at = -1e9  # last reply of any kind: a remote daemon that answers is reachable

    def configure(self, settings: ScriptSettings) -> None:
        """Remember new settings; they take effect at the next start or restart (a remote daemon's at once)."""
        with self._lock:
            old, self.settings = self.settings, settings
            if is_remote(settings) and self._lookup is not None and (old.host, old.port, old.token) != (
                settings.host, settings.port, settings.token
            ):
                self.supervisor.stop()  # a daemon this script ran here is no longer the one to show
                self._connect()

    def start(self) -> None:
        """Start the local daemon, or begin controlling the remote one."""
        with self._lock:
            if is_remote(self.settings):
                self._control_remote()
                return
            command = self._command()
            if command:
                self._connect()
                self.supervisor.start(command, daemon_workdir(self.settings))

    def restart(self) -> None:
        with self._lock:
            if is_remote(self.settings):
                self._control_remote()
                return
            command = self._command()
            if command:
                self._connect()
                self.supervisor.restart(command, daemon_workdir(self.settings))

    def stop(self) -> None:
        with self._lock:
            if is_remote(self.settings):
                self._log(f"the daemon on {self.settings.host} was not started by OBS: stop it on that PC")
            self.supervisor.stop()

    def shutdown(self) -> None:
        """Stop the daemon and wait for it (bounded); for script unload and OBS exit only."""
        with self._lock:
            self.supervisor.stop_and_wait()
            if self.client is not None:
                self.client.close()
                self.client = None

    def send(self, address: str, *args: OscArg) -> None:
        """Send a control command; its reply arrives in a later `tick()`. Dropped while shutting down."""
        if not self._lock.acquire(timeout=SEND_WAIT_S):
            return
        try:
            if self.client is not None:
                self.client.send(address, *args)
        finally:
            self._lock.release()

    def tick(self) -> None:
        """Timer body: supervise, read replies, ask for status once per interval."""
        if not self._lock.acquire(blocking=False):
            return  # shutdown() holds it for up to a few seconds: never stall OBS's graphics thread
        try:
            self._tick()
        finally:
            self._lock.release()

    def _tick(self) -> None:
        self.supervisor.tick()
        if self.client is None or self.client.address[0] != self._address():
            self._attach()
        if self.client is None:
            return
        now = self._clock()
        for reply in self.client.poll():
            self._heard_at = now
            self._on_reply(reply)
        if now - self._status_sent_at >= STATUS_INTERVAL_S:
            self._status_sent_at = now
            self.client.send("/rain/status")
        if self.status is not None and now - self._status_at > STATUS_STALE_S:
            self.status = None

    def status_line(self) -> str:
        with self._lock:
            if not is_remote(self.settings):
                return format_status(self.supervisor.state, self.status, self.last_error or self.supervisor.last_error)
            where = f"remote {self.settings.host.strip()}:{self.settings.port}"
            if self._lookup is None:
                return format_status(where, None, "not connected (Start daemon connects)")
            if self._lookup.error:
                return format_status(where, None, self._lookup.error)
            if self._clock() - self._heard_at > STATUS_STALE_S:
                return format_status(where, None, "not reachable")
            return format_status(where, self.status, self.last_error or ("" if self.status else "connecting"))

    def characters(self) -> Tuple[str, ...]:
        status = self.status  # one read of an immutable snapshot: no lock needed
        return status.characters if status is not None else ()

    def _command(self) -> List[str]:
        try:
            return daemon_command(self.settings, self._which)
        except ValueError as err:
            self.last_error = str(err)
            self._log(self.last_error)
            return []

    def _control_remote(self) -> None:
        """Remote mode: a local daemon this script started goes; the remote one is only talked to."""
        self.supervisor.stop()
        self._log(f"controlling the daemon on {self.settings.host.strip()}:{self.settings.port} (started elsewhere)")
        self._connect()

    def _connect(self) -> None:
        """Point the client at the configured daemon; a host name is looked up first, on a thread."""
        if self._log_dir is not None and not is_remote(self.settings):
            self.supervisor.log_path = self._log_dir / f"rain-vtuber-daemon-{self.settings.port}.log"
        host = self.settings.host.strip() if is_remote(self.settings) else LOCAL_HOST
        if self._lookup is None or self._lookup.host != host or self._lookup.error:
            self._lookup = HostLookup(host)
            self.status = None
            self._heard_at = self._clock()  # "not reachable" only after a silent while
        self._attach()

    def _address(self) -> Optional[str]:
        return self._lookup.address if self._lookup is not None else None

    def _attach(self) -> None:
        """(Re)create the client once the address is known; report a failed lookup."""
        address = self._address()
        if address is None:
            if self._lookup is not None and self._lookup.error:
                self.last_error = self._lookup.error
            return
        wanted = (address, self.settings.port)
        if self.client is not None and self.client.address == wanted:
            self.client.token = self.settings.token
            return
        if self.client is not None:
            self.client.close()
        self.client = ControlClient(self.settings.port, self.settings.token, address)

    def _send_shutdown(self) -> bool:
        """The supervisor's shutdown request: True once the daemon has answered one, else (re)send.

        Only ever to a daemon on this PC: a remote one is not ours to stop.
        """
        if self.client is None or not _is_loopback(self.client.address[0]):
            return False
        replies = self.client.poll()
        for reply in replies:
            self._on_reply(reply)
        if any(reply.command == "/rain/shutdown" for reply in replies):
            return True
        self.client.send("/rain/shutdown")
        return False

    def _on_reply(self, reply: Reply) -> None:
        if reply.command == "/rain/status" and reply.ok:
            status = parse_status(reply.message)
            if status is not None:
                self.status = status
                self._status_at = self._clock()
                self.last_error = ""
            return
        if reply.ok:
            if self.client is not None:
                self.client.send("/rain/status")  # show the effect now, not at the next poll
            return
        self.last_error = f"{reply.command}: {reply.message}"
        self._log(self.last_error)
