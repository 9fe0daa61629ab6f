"""An output that records what it is given, for the runner and stage tests (no device needed)."""

from __future__ import annotations

import threading

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings, OutputUnavailable


class Recorder(Output):
    """Records what it is given; `gate` blocks write() until set, `fail_opens` open() calls fail first."""

    settings_model = OutputSettings

    def __init__(self, fail_opens: int = 0, fail_writes: int = 0, unavailable: bool = False,
                 width: int = 4, height: int = 2) -> None:
        super().__init__(OutputSettings(kind="test"), width, height, FrameRate(30))
        self.frames: list[OutputFrame] = []
        self.written: list[int] = []
        self.rates: list[FrameRate] = []
        self.opens = self.closes = 0
        self.threads: set[str] = set()  # where open, write and close ran
        self.gate = threading.Event()
        self.gate.set()
        self._fail_opens, self._fail_writes, self._unavailable = fail_opens, fail_writes, unavailable

    def open(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.opens += 1
        if self._unavailable:
            raise OutputUnavailable("no library for this here")
        if self.opens <= self._fail_opens:
            raise RainError("device busy")

    def write(self, frame: OutputFrame) -> None:
        self.gate.wait()
        self.threads.add(threading.current_thread().name)
        if self._fail_writes:
            self._fail_writes -= 1
            raise RuntimeError("lost the device")
        self.frames.append(frame)
        self.written.append(frame.sequence)

    def set_rate(self, rate: FrameRate) -> None:
        super().set_rate(rate)
        self.rates.append(rate)

    def close(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.closes += 1
