"""Keeps the daemon process alive for the OBS script: start, restart with backoff, stop by escalation.

Driven entirely by `Supervisor.tick()` from the script's timer, so nothing here waits except
`stop_and_wait()` (script unload, OBS exit), which has a time limit. The child's console output goes
to a log file whose last line says why it died. Standard library only (OBS's embedded Python).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

LOG_TAIL_BYTES = 4096
RESEND_S = 0.5  # how often a stopping daemon is asked again to shut down


@dataclass
class Backoff:
    """Exponential restart delay; a child that ran `stable_s` or longer starts over at `initial_s`.

    The daemon's own rain_vtuber.utils.Backoff follows the same schedule; OBS's Python cannot import
    rain_vtuber, so the script keeps this small one.
    """

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
    """The supervisor's states, worded as the status line shows them."""

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
        self._run(command, cwd, replace_running=False)

    def restart(self, command: List[str], cwd: Optional[str] = None) -> None:
        """Stop the child (if any), then run `command` (in `cwd`)."""
        self._run(command, cwd, replace_running=True)

    def _run(self, command: List[str], cwd: Optional[str], replace_running: bool) -> None:
        self.command, self.cwd = list(command), cwd
        self._want_running = True
        self.backoff.reset()
        if self.state == ProcState.RUNNING and replace_running:
            self._begin_stop()  # tick() spawns the new child once the old one is gone
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
