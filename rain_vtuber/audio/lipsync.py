"""LipSync: a microphone (or a file played like one) -> mouth shapes on time.monotonic_ns().

Blocks go from the capture's thread into a bounded queue; one analysis thread takes them, turns
them into hops (analysis.py) and appends those to a lock-free ring (track.py) that mouth_at()
reads from any thread. The same thread watches the blocks arrive: a device that delivers nothing
for stall_s (unplugged, or a PulseAudio monitor with nothing playing: neither says so) is closed
and opened again, with Backoff between tries that fail or stay silent. Nothing escapes the
thread: failures are counted, logged at a limited rate and shown by status().
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque

import numpy as np

from rain_vtuber.audio.analysis import HOP_S, Hop, MouthAnalyser
from rain_vtuber.audio.capture import Capture, FileCapture, MicrophoneCapture
from rain_vtuber.audio.settings import AudioCalibration, AudioSettings
from rain_vtuber.audio.track import HopRing
from rain_vtuber.errors import RainError
from rain_vtuber.face.mouth import Mouth
from rain_vtuber.utils.backoff import Backoff
from rain_vtuber.utils.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

QUEUE_BLOCKS = 100
"""Blocks waiting for analysis (1 s of 10 ms blocks); a full queue drops the new block and counts it."""
SILENT_AFTER_S = 0.25
"""No block for this long: status says 'silent' (mouth_at already answers silence)."""
DELAY_WINDOW = 500
"""Hops (5 s) over which the capture-to-available delay percentiles are taken."""
DEFAULT_DELAY_NS = 50_000_000
"""delay_ns before any sound was analysed."""
DELAY_EVERY = 50
"""Blocks between updates of delay_ns (the daemon reads it every frame: a plain attribute)."""


class LipSync:
    """Start it, then ask mouth_at(t_ns) from any thread; status() says how the input is doing.

    Constructing it checks the input (RainError: a device name that matches nothing, listing the
    input devices; a missing or unreadable file); everything after start() is retried, not raised.
    """

    def __init__(self, settings: AudioSettings, calibration: AudioCalibration | None = None,
                 history_s: float = 30.0) -> None:
        if settings.input is None:
            raise RainError("no audio input: set audio.input to a microphone name or index, 'default', or a WAV/FLAC file")
        self.settings = settings
        path = settings.input_file
        self._capture: Capture = (
            FileCapture(path, settings.block_ms, settings.loop) if path is not None
            else MicrophoneCapture(settings.input, settings.sample_rate, settings.block_ms)
        )
        self._calibration = calibration or AudioCalibration()
        self._new_calibration: AudioCalibration | None = None
        self._analyser = MouthAnalyser(self._capture.sample_rate, settings, self._calibration)
        self._ring = HopRing(round(history_s / HOP_S), self._analyser.hop_ns, settings.release_ms)
        self._queue: queue.Queue[tuple[int, np.ndarray, int]] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self._delays: deque[int] = deque(maxlen=DELAY_WINDOW)
        self._warn = RateLimitedLog(log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0  # blocks of a closed stream still queued are told apart by it
        self._state, self._error = "off", None
        self._last_block_ns = 0
        self._delay_ns = DEFAULT_DELAY_NS
        self._blocks = self._dropped = self._stalls = self._reopens = self._failed_opens = self._seen_overflows = 0
        self._cpu_ns = self._analysed_samples = 0

    # ---- the daemon's side ---------------------------------------------------------------
    def start(self) -> "LipSync":
        """Open the input and analyse on a thread named rain-audio (no-op while running)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._state, self._error = "starting", None
        self._thread = threading.Thread(target=self._run, name="rain-audio", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Close the input and end the thread (safe to call twice or before start)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("audio input %s did not stop within %.1f s", self._capture.name, timeout)
        self._capture.close()
        self._state = "off"

    def __enter__(self) -> "LipSync":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mouth_at(self, t_ns: int) -> Mouth | None:
        """The mouth for the sound captured at t_ns (time.monotonic_ns()), interpolated between hops.

        Newer than the newest sound (a silent or stalled input), or in a gap: silence, closing with
        the release time as if silence had been heard. None only while the input is off or failed
        (the device cannot be opened). Never blocks.
        """
        if self._state in ("off", "error"):
            return None
        return self._ring.at(t_ns)

    def heard_at(self, captured_ns: int, now_ns: int) -> int:
        """The instant whose sound goes with a face captured at `captured_ns`: that one, unless the face
        is newer than the sound analysed by `now_ns` (a phone's packet is fresher than the microphone)."""
        return min(captured_ns, now_ns - self._delay_ns)

    @property
    def delay_ns(self) -> int:
        """p95 of capture-to-available over the last 5 s (updated twice a second; 50 ms before any
        sound): mouth_at(time.monotonic_ns() - delay_ns) is the newest mouth with sound behind it."""
        return self._delay_ns

    def set_calibration(self, calibration: AudioCalibration) -> None:
        """Use new levels from the next block on (a calibration reload or a character switch)."""
        self._calibration = self._new_calibration = calibration

    @property
    def calibration(self) -> AudioCalibration:
        return self._calibration

    def hops_between(self, start_ns: int, end_ns: int) -> list[Hop]:
        """The hops captured in [start_ns, end_ns) of the last seconds (calibration, checks), oldest first."""
        return self._ring.hops_between(start_ns, end_ns)

    def status(self) -> dict:
        """What the input is doing, JSON-ready (for /rain/status and the calibrate page's meter):

        input, kind (microphone or file), device (its name), state: starting (opened, nothing heard
        yet), listening (blocks arrive), silent (none for 0.25 s: a quiet monitor or a stalled device;
        reopened after stall_s), error (cannot be opened; retried with backoff; `error` says why),
        ended (a file without loop), off; level_db and open of the newest hop (None and 0 when none
        in the last 0.5 s); blocks, overflows (dropouts the device reported), dropped_blocks (queue
        full), stalls, reopens, failed_opens; delay_ms_p50/p95 from capture to available over the last
        5 s; cpu_ms_per_s: the analysis thread's CPU time per second of sound.
        """
        now = time.monotonic_ns()
        newest = self._ring.newest
        recent = newest is not None and now - newest.t_ns < 0.5e9
        delays = np.array(self._delays, dtype=np.float64) / 1e6
        audio_s = self._analysed_samples / self._analyser.sample_rate
        return {
            "input": self.settings.input,
            "kind": self._capture.kind,
            "device": self._capture.name,
            "state": self._current_state(now),
            "error": self._error,
            "level_db": round(newest.level_db, 1) if recent else None,
            "open": round(newest.open, 3) if recent else 0.0,
            "sample_rate": self._capture.sample_rate,
            "blocks": self._blocks,
            "overflows": self._capture.overflows,
            "dropped_blocks": self._dropped,
            "stalls": self._stalls,
            "reopens": self._reopens,
            "failed_opens": self._failed_opens,
            "delay_ms_p50": round(float(np.percentile(delays, 50)), 1) if len(delays) else None,
            "delay_ms_p95": round(float(np.percentile(delays, 95)), 1) if len(delays) else None,
            "cpu_ms_per_s": round(self._cpu_ns / 1e6 / audio_s, 3) if audio_s > 0 else None,
        }

    # ---- the analysis thread ---------------------------------------------------------------
    def _current_state(self, now: int) -> str:
        state = self._state
        if state in ("off", "error", "starting"):
            return state
        if self._capture.ended and self._queue.empty():
            return "ended"
        return "silent" if now - self._last_block_ns > SILENT_AFTER_S * 1e9 else "listening"

    def _enqueue(self, generation: int, samples: np.ndarray, first_ns: int) -> None:
        """The capture's callback: never blocks (PortAudio's thread)."""
        try:
            self._queue.put_nowait((generation, samples, first_ns))
        except queue.Full:
            self._dropped += 1

    def _run(self) -> None:
        backoff = Backoff(first=0.5, longest=8.0)
        patience_ns = 0  # extra quiet allowed before the next reopen (grows while reopening finds nothing)
        try:
            while not self._stop.is_set():
                if not self._open(backoff):
                    continue
                delivered = self._listen(patience_ns)
                if delivered is None:  # stopping
                    break
                if delivered:
                    backoff.succeeded()
                patience_ns = 0 if delivered else int(backoff.failed() * 1e9)
        except Exception as err:  # the thread never dies silently
            log.exception("audio input %s failed", self._capture.name)
            self._state, self._error = "error", f"{type(err).__name__}: {err}"
        finally:
            self._capture.close()

    def _open(self, backoff: Backoff) -> bool:
        """Open the capture (afresh after the first time); on failure wait the backoff and say False."""
        first = self._generation == 0
        self._generation += 1
        generation = self._generation
        backoff.started()
        try:
            self._capture.open(lambda s, t: self._enqueue(generation, s, t), refresh=not first)
        except Exception as err:  # RainError, PortAudioError, OSError: the device is not there
            self._state, self._error = "error", str(err)
            self._failed_opens += 1
            self._warn.warning("open", "audio input %s: cannot open: %s", self.settings.input, err)
            self._stop.wait(backoff.failed())
            return False
        if not first:
            self._reopens += 1
        if self._capture.sample_rate != self._analyser.sample_rate:
            self._analyser = MouthAnalyser(self._capture.sample_rate, self.settings, self._calibration)
        self._analyser.reset()
        self._state, self._error = ("starting" if first else "listening"), None
        return True

    def _listen(self, patience_ns: int) -> bool | None:
        """Analyse blocks until the input stalls (-> whether it delivered anything) or stop (-> None)."""
        stall_ns = int(self.settings.stall_s * 1e9) + patience_ns
        opened_ns, delivered = time.monotonic_ns(), False
        while not self._stop.is_set():
            try:
                generation, samples, first_ns = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._capture.ended:
                    continue  # a file that finished: silence from now on, nothing to reopen
                quiet_ns = time.monotonic_ns() - (self._last_block_ns if delivered else opened_ns)
                if quiet_ns > stall_ns:
                    self._stalls += 1
                    self._warn.warning("stall", "audio input %s: no sound for %.1f s; reopening it",
                                       self._capture.name, quiet_ns / 1e9)
                    self._capture.close()
                    return delivered
                continue
            if generation != self._generation:
                continue  # queued by a stream closed since
            delivered = True
            self._state = "listening"
            self._analyse(samples, first_ns)
        return None

    def _analyse(self, samples: np.ndarray, first_ns: int) -> None:
        calibration, self._new_calibration = self._new_calibration, None
        if calibration is not None:
            self._analyser.set_calibration(calibration)
        cpu = time.thread_time_ns()
        hops = self._analyser.feed(samples, first_ns)
        now = time.monotonic_ns()
        for hop in hops:
            self._ring.push(hop)
            self._delays.append(now - hop.t_ns)
        self._blocks += 1
        if self._blocks % DELAY_EVERY == 0 and self._delays:
            self._delay_ns = int(np.percentile(self._delays, 95))
        self._cpu_ns += time.thread_time_ns() - cpu
        self._analysed_samples += len(samples)
        self._last_block_ns = now
        overflows = self._capture.overflows
        if overflows != self._seen_overflows:
            self._seen_overflows = overflows
            self._warn.warning("overflow", "audio input %s: dropout (%d so far)", self._capture.name, overflows)


def open_lipsync(settings: AudioSettings, calibration: AudioCalibration | None = None) -> LipSync | None:
    """A started LipSync for the daemon's `audio:` settings, or None when audio is off."""
    if not settings.enabled:
        return None
    return LipSync(settings, calibration).start()
