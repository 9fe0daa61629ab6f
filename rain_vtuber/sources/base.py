"""FaceSource: one named thread per input, publishing the newest FaceState; nothing escapes it.

Consumers poll latest() at their own pace (newest wins, overwritten faces are counted as
dropped). A source that stops hearing from its tracker reports LOST and latest() returns None,
so the renderer eases to neutral instead of freezing on a stale face.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from rain_vtuber.errors import RainError
from rain_vtuber.face.state import FaceState, TrackingState
from rain_vtuber.utils.backoff import Backoff
from rain_vtuber.utils.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)



@dataclass
class SourceCounters:
    """What a source has seen, for status displays and tests."""

    received: int = 0  # frames captured or datagrams received
    published: int = 0  # faces put into the latest() slot
    dropped: int = 0  # published faces overwritten before anyone read them
    rejected: int = 0  # malformed packets or values
    errors: int = 0  # exceptions caught inside the thread
    retries: int = 0  # times the source started over after a failure


class FaceSource(ABC):
    """Base of every face source: lifecycle, the newest-wins slot, state and counters.

    Subclasses implement _run(), which loops until self._stopping is set and calls
    _publish() / _lose() / _fail(). _run() may raise: the thread logs it and reports ERROR.
    """

    def __init__(self, name: str, lost_after_s: float | None = None) -> None:
        self.name = name
        self.counters = SourceCounters()
        self.warn = RateLimitedLog(logging.getLogger(type(self).__module__))
        self._lost_after_ns = None if lost_after_s is None else int(lost_after_s * 1e9)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._latest: FaceState | None = None
        self._unread = False
        self._state = TrackingState.WAITING
        self._error: str | None = None

    # -- consumer side -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (no-op if it is running; after stop() it starts afresh)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            if not self._stopping.is_set():
                return
            thread.join(2.0)  # a stop() is still winding down: let it finish before starting over
        with self._lock:
            self._stopping.clear()
            self._state, self._error, self._latest = TrackingState.WAITING, None, None
            self._thread = threading.Thread(target=self._guarded_run, name=f"rain-source-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to finish and wait up to `timeout` s (safe to call twice or before start)."""
        self._stopping.set()  # every _run() polls it at least every 0.1 s
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("source %s did not stop within %.1f s", self.name, timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self) -> FaceState | None:
        """The newest face, or None while waiting, lost or failed."""
        with self._lock:
            self._expire()
            if self._state is not TrackingState.TRACKING:
                return None
            self._unread = False
            return self._latest

    @property
    def state(self) -> TrackingState:
        with self._lock:
            self._expire()
            return self._state

    @property
    def error(self) -> str | None:
        """The last error message, or None."""
        return self._error

    def __enter__(self) -> FaceSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- thread side ---------------------------------------------------------------------

    @abstractmethod
    def _run(self) -> None:
        """Produce faces until self._stopping is set."""

    def _publish(self, face: FaceState) -> None:
        with self._lock:
            if self._unread:
                self.counters.dropped += 1
            self._latest, self._unread = face, True
            self._state, self._error = TrackingState.TRACKING, None
            self.counters.published += 1

    def _lose(self) -> None:
        """No face right now (out of view, no packets, or the sender says so while repeating stale values).

        The next _publish() recovers; until then latest() is None, so the renderer holds, then eases to neutral.
        """
        with self._lock:
            if self._state is TrackingState.TRACKING:
                self._state = TrackingState.LOST

    def _fail(self, message: str) -> None:
        """Report a failure the user must fix (camera gone, port in use)."""
        with self._lock:
            self._state, self._error = TrackingState.ERROR, message
        self.warn.warning(f"fail:{message}", "source %s: %s", self.name, message)

    def _expire(self) -> None:
        """TRACKING -> LOST once the newest face is older than lost_after_s (lock held)."""
        if self._state is TrackingState.TRACKING and self._lost_after_ns is not None and self._latest is not None:
            if time.monotonic_ns() - self._latest.timestamp_ns > self._lost_after_ns:
                self._state = TrackingState.LOST

    def _guarded_run(self) -> None:
        """Run until stopped; a failure is reported, then _run() is retried with a growing pause.

        A camera unplugged or failing its reads, a port held by another program: the source says so
        (state and error) and comes back by itself when the cause goes away. A run that ends normally
        (a recording played to its end) is not repeated.
        """
        backoff = Backoff()
        while not self._stopping.is_set():
            backoff.started()
            try:
                self._run()
                return
            except RainError as exc:  # a condition the user can fix: the message says how
                self._fail(str(exc))
            except Exception as exc:  # the thread is the last line: report, never raise
                self.counters.errors += 1
                log.debug("source %s crashed", self.name, exc_info=True)
                self._fail(f"{type(exc).__name__}: {exc}")
            self.counters.retries += 1
            wait = backoff.failed()
            log.debug("source %s: retrying in %.1f s", self.name, wait)
            if self._stopping.wait(wait):
                return
