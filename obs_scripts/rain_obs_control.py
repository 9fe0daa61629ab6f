"""The controller the OBS script drives: daemon lifecycle, control commands and status polling.

It ties the pieces together: settings (rain_obs_settings) say which daemon, the supervisor
(rain_obs_supervisor) runs a local one, the client (rain_obs_client) talks to it and the status
(rain_obs_status) is what it says. Nothing here blocks: the OBS script calls `Controller.tick()`
from a timer, and only `Controller.shutdown()` (script unload, OBS exit) waits, with a time limit.
Standard library only and free of `obspython`, so unit tests import it directly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from rain_obs_client import ControlClient, HostLookup, Reply, is_loopback
from rain_obs_osc import OscArg
from rain_obs_settings import ScriptSettings, daemon_command, daemon_host, daemon_workdir, is_remote
from rain_obs_status import DaemonStatus, format_status, parse_status
from rain_obs_supervisor import Supervisor

STATUS_INTERVAL_S = 1.0
STATUS_STALE_S = 3.5
SEND_WAIT_S = 0.2  # longest a hotkey waits for the controller (busy only while shutting down)


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
        """Start the local daemon (a running one is left alone), or begin controlling the remote one."""
        self._launch(self.supervisor.start)

    def restart(self) -> None:
        """Replace the local daemon with a fresh one on the current settings; remote: as start()."""
        self._launch(self.supervisor.restart)

    def _launch(self, run: Callable[[List[str], Optional[str]], None]) -> None:
        with self._lock:
            if is_remote(self.settings):
                self._control_remote()
                return
            command = self._command()
            if command:
                self._connect()
                run(command, daemon_workdir(self.settings))

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

    def _report(self, problem: str) -> None:
        """Show a problem in the status line (until the next good status) and in the script log."""
        self.last_error = problem
        self._log(problem)

    def _command(self) -> List[str]:
        try:
            return daemon_command(self.settings, self._which)
        except ValueError as err:
            self._report(str(err))
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
        host = daemon_host(self.settings)
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
        if self.client is None or not is_loopback(self.client.address[0]):
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
        self._report(f"{reply.command}: {reply.message}")
