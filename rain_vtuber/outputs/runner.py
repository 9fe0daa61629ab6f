"""OutputRunner: one output on its own thread behind a newest-frame-wins slot.

offer() never blocks: a frame the output has not taken yet is replaced by the newer one and
counted as dropped, so an output that is slow (a stalled viewer, a busy virtual camera) falls
behind on its own. A failure is the output's own: the runner reports it in status, closes the
output, waits with backoff and opens it again, while the engine and the other outputs go on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputUnavailable
from rain_vtuber.utils.backoff import Backoff

log = logging.getLogger(__name__)


class OutputRunner:
    """Runs `output` until close(); states: starting, running, error (retrying), unavailable, closed."""

    def __init__(self, output: Output, name: str) -> None:
        self.output = output
        self.name = name
        self.state = "starting"
        self.error: str | None = None
        self.frames_written = 0
        self.dropped = 0
        self._logged: str | None = None  # the failure last logged: a retry failing the same way stays quiet
        self._cond = threading.Condition()
        self._frame: OutputFrame | None = None
        self._rate: FrameRate | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"rain-output-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, frame: OutputFrame) -> None:
        """Hand over the newest frame; never blocks (an untaken frame is dropped)."""
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def set_rate(self, rate: FrameRate) -> None:
        """Tell the output the new rate, on its own thread before its next frame."""
        with self._cond:
            self._rate = rate
            self._cond.notify()

    def status(self) -> dict[str, Any]:
        """kind, state, error, frames written and dropped, and what the output tells of itself."""
        try:
            details = self.output.status()
        except Exception as err:  # a status read must never break /rain/status
            details = {"status_error": str(err)}
        return {"kind": self.output.settings.kind, "state": self.state, "error": self.error,
                "frames_written": self.frames_written, "dropped": self.dropped, **details}

    def begin_close(self) -> None:
        """Ask the thread to close the output and end, without waiting (close() waits)."""
        with self._cond:
            self._closing = True
            self._cond.notify()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread and close the output (idempotent); waits up to `timeout` s."""
        self.begin_close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("output %s did not stop within %.1f s", self.name, timeout)
                return
        if self._thread.ident is None:  # never started; a started thread closed the output itself
            self._close_output()
        self.state = "closed"

    # -- the output's thread -------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff()
        while not self._closing:
            backoff.started()
            try:
                self._apply_rate()
                self.output.open()
                self.state, self.error = "running", None
                log.info("output %s open%s", self.name, " again" if self._logged else "")
                self._logged = None
                self._serve()
                self._close_output()  # here: what open() made (an OpenGL context) belongs to this thread
                return
            except OutputUnavailable as err:
                self._report("unavailable", str(err))
                self._close_output()
                return
            except Exception as err:
                message = str(err) if isinstance(err, RainError) else f"{type(err).__name__}: {err}"
                if not isinstance(err, RainError):
                    log.debug("output %s failed", self.name, exc_info=err)
                self._report("error", message)
            self._close_output()
            wait = backoff.failed()
            with self._cond:
                self._cond.wait_for(lambda: self._closing, timeout=wait)

    def _serve(self) -> None:
        """Write frames as they come until closing; a failure leaves to _run (report, reopen)."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or self._frame is not None or self._rate is not None)
                if self._closing:
                    return
                frame, self._frame = self._frame, None
            self._apply_rate()
            if frame is not None:
                self.output.write(frame)
                self.frames_written += 1

    def _apply_rate(self) -> None:
        with self._cond:
            rate, self._rate = self._rate, None
        if rate is not None:
            self.output.set_rate(rate)

    def _report(self, state: str, message: str) -> None:
        """Status says it every time; the log once per distinct failure (a port in use is one line)."""
        self.state, self.error = state, message
        if message != self._logged:
            log.warning("output %s: %s%s", self.name, message, "; retrying with backoff" if state == "error" else "")
            self._logged = message

    def _close_output(self) -> None:
        try:
            self.output.close()
        except Exception as err:
            log.warning("output %s: closing failed: %s", self.name, err)

    def __repr__(self) -> str:
        return f"OutputRunner({self.name!r}, state={self.state!r})"

