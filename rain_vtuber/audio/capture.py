"""Where samples come from: a PortAudio microphone, or a sound file played in real time like one.

A capture hands each block to `deliver(samples, first_ns)`: mono float32 in [-1, 1] and the
capture time of its first sample on time.monotonic_ns(). The microphone calls it on PortAudio's
thread, so `deliver` must only enqueue (see lipsync.py); a file calls it from its pacing thread.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rain_vtuber.audio import devices
from rain_vtuber.errors import RainError

log = logging.getLogger(__name__)

Deliver = Callable[[np.ndarray, int], None]
MAX_ADC_AGE_S = 1.0
"""An input ADC time further back than this (or ahead of now) is not believed: a host API that
reports none gives 0, some report nonsense while a stream starts."""


class Capture(ABC):
    """One input. open() starts delivering, close() stops (both safe to repeat); not thread-safe."""

    kind: str
    name: str
    sample_rate: int
    overflows: int = 0  # blocks the device says it lost (input overflow)
    ended: bool = False  # a file input reached its end (no more blocks will come)

    @abstractmethod
    def open(self, deliver: Deliver, refresh: bool = False) -> None:
        """Start delivering blocks; refresh: look for the device afresh first (after it vanished)."""

    @abstractmethod
    def close(self) -> None: ...


class MicrophoneCapture(Capture):
    """A PortAudio input stream (the device by name, index, or the default), one channel."""

    kind = "microphone"

    def __init__(self, wanted: int | str | None, sample_rate: int | None, block_ms: float) -> None:
        self.wanted, self.block_ms, self._rate_wanted = wanted, block_ms, sample_rate
        device = devices.find_input_device(wanted)  # RainError listing the devices when nothing matches
        self.name, self.sample_rate = device.name, int(sample_rate or device.default_rate)
        self._stream: Any = None

    def open(self, deliver: Deliver, refresh: bool = False) -> None:
        self.close()
        sd = devices.portaudio()
        if refresh:
            devices.refresh()
        device = devices.find_input_device(self.wanted)
        rate = self._rate(sd, device)
        latency = [0.0]

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            now = time.monotonic_ns()  # PortAudio's thread: no locks, no logging, one small copy
            if status.input_overflow:
                self.overflows += 1
            age = time_info.currentTime - time_info.inputBufferAdcTime
            if time_info.inputBufferAdcTime <= 0 or not 0.0 <= age <= MAX_ADC_AGE_S:
                age = frames / rate + latency[0]  # no usable ADC time: the block's length + the stream's latency
            deliver(indata[:, 0].copy(), now - int(age * 1e9))

        with devices.lock:
            stream = sd.InputStream(
                device=device.index, channels=1, samplerate=rate, dtype="float32",
                blocksize=max(1, round(self.block_ms * rate / 1000)), latency="low", callback=callback,
            )
            devices.opened(+1)
            try:
                latency[0] = float(stream.latency)
                stream.start()
            except BaseException:
                stream.close()
                devices.opened(-1)
                raise
        self._stream, self.name, self.sample_rate = stream, device.name, rate

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with devices.lock:
            try:
                stream.abort()  # stop() waits for buffers a vanished device never returns
                stream.close()
            except Exception as err:  # a device already gone may refuse; the stream is dropped anyway
                log.debug("closing input stream: %s", err)
            finally:
                devices.opened(-1)

    def _rate(self, sd: Any, device: devices.InputDevice) -> int:
        """The wanted rate if the device takes it, else its own (the analysis works at any rate)."""
        if self._rate_wanted:
            try:
                sd.check_input_settings(device=device.index, channels=1, samplerate=self._rate_wanted, dtype="float32")
                return int(self._rate_wanted)
            except Exception:
                log.info("%s does not take %d Hz; using its %g Hz", device.name, self._rate_wanted, device.default_rate)
        return int(device.default_rate)


class FileCapture(Capture):
    """A sound file delivered block by block at its own pace, stamped as if a microphone heard it now."""

    kind = "file"

    def __init__(self, path: Path, block_ms: float, loop: bool) -> None:
        self.samples, self.sample_rate = read_sound(path)
        self.name, self.loop = str(path), loop
        self._block = max(1, round(block_ms * self.sample_rate / 1000))
        self._position = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self, deliver: Deliver, refresh: bool = False) -> None:
        self.close()
        self._stop.clear()
        self._thread = threading.Thread(target=self._play, args=(deliver,), name="rain-audio-file", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def _play(self, deliver: Deliver) -> None:
        """Each block is delivered when its last sample would have been heard; stamps stay on that timeline."""
        start, heard = time.monotonic_ns(), 0  # samples delivered since open
        total, per_ns = len(self.samples), 1e9 / self.sample_rate
        while not self._stop.is_set():
            if self._position >= total:
                if not self.loop or total == 0:
                    self.ended = True
                    return
                self._position = 0
            chunk = self.samples[self._position : self._position + self._block]
            wait_s = (start + (heard + len(chunk)) * per_ns - time.monotonic_ns()) / 1e9
            if wait_s > 0 and self._stop.wait(wait_s):
                return
            deliver(chunk, round(start + heard * per_ns))
            self._position += len(chunk)
            heard += len(chunk)


def read_sound(path: Path) -> tuple[np.ndarray, int]:
    """A sound file -> (mono float32 samples in [-1, 1], sample rate); RainError if unreadable."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise RainError(f"sound file not found: {path}")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except RuntimeError as err:  # soundfile.LibsndfileError: not a format libsndfile reads
        raise RainError(f"cannot read sound file {path}: {err} (WAV, FLAC, OGG and MP3 work)") from err
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(rate)
