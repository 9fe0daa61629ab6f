"""NDI output: one named NDI video source (what OBS shows through the DistroAV plugin).

The output stage paces the frames (clock_video is off), so NDI never blocks the stream. Each frame
carries the capture time of the face it shows as its NDI timecode (UTC, 100 ns units), repeats
included, so a receiver can see the face-to-screen latency.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings, OutputUnavailable
from rain_vtuber.outputs.ndi_compat import import_ndilib, sender_source_name

_runtime_lock = threading.Lock()
_runtime_users = 0


def _acquire_runtime() -> Any:
    """Initialise the NDI library once per process (refcounted) and return the module.

    Raises OutputUnavailable where ndi-python is not installed or does not load.
    """
    global _runtime_users
    ndi = import_ndilib()  # imported late: the wheel loads libndi on import
    with _runtime_lock:
        if _runtime_users == 0 and not ndi.initialize():
            raise OutputUnavailable("NDI runtime failed to initialise: this CPU or OS is not supported by libndi")
        _runtime_users += 1
    return ndi


def _release_runtime(ndi: Any) -> None:
    global _runtime_users
    with _runtime_lock:
        _runtime_users -= 1
        if _runtime_users == 0:
            ndi.destroy()


def timecode(monotonic_ns: int) -> int:
    """A time.monotonic_ns() instant -> NDI timecode: UTC since the Unix epoch in 100 ns units."""
    return (monotonic_ns + time.time_ns() - time.monotonic_ns()) // 100


class NdiSettings(OutputSettings):
    """`outputs: [{kind: ndi, ...}]` (the old top-level ndi_name / ndi_format keys fill this in)."""

    kind: Literal["ndi"] = "ndi"
    ndi_name: str = Field("RAIN VTuber", min_length=1, description="NDI source name; OBS lists it as 'HOST (name)'")
    format: Literal["bgra", "bgrx"] = Field("bgra", description="bgra carries alpha; bgrx is opaque")


class NdiOutput(Output):
    """One NDI source with a stable name, sending every frame it is given (repeats keep it alive)."""

    settings_model = NdiSettings
    settings: NdiSettings

    def __init__(self, settings: NdiSettings, width: int, height: int, rate: FrameRate) -> None:
        super().__init__(settings, width, height, rate)
        self._ndi: Any = None
        self._send: Any = None
        self._video: Any = None
        self._source_name = settings.ndi_name  # "HOST (name)" once open
        self._buffer = np.zeros((height, width, 4), np.uint8)
        self._lock = threading.Lock()  # status() reads the sender from other threads
        self._converted: int | None = None  # sequence of the picture in the buffer
        self.frames_sent = 0

    def open(self) -> None:
        ndi = _acquire_runtime()
        create = ndi.SendCreate()
        create.ndi_name = self.settings.ndi_name
        create.clock_video = False
        send = ndi.send_create(create)
        if send is None:
            _release_runtime(ndi)
            raise RainError(
                f"could not create the NDI source '{self.settings.ndi_name}' (is the NDI runtime blocked by a firewall?)"
            )
        video = ndi.VideoFrameV2()
        video.FourCC = ndi.FOURCC_VIDEO_TYPE_BGRA if self.settings.format == "bgra" else ndi.FOURCC_VIDEO_TYPE_BGRX
        name = sender_source_name(ndi, send, self.settings.ndi_name)  # once: status reads it on every request
        with self._lock:
            self._ndi, self._send, self._video, self._source_name = ndi, send, video, name
        self.set_rate(self.rate)

    def set_rate(self, rate: FrameRate) -> None:
        super().set_rate(rate)
        if self._video is not None:
            self._video.frame_rate_N, self._video.frame_rate_D = rate.numerator, rate.denominator

    def write(self, frame: OutputFrame) -> None:
        if frame.sequence != self._converted:  # a repeat of a picture the runner dropped is new here
            cv2.cvtColor(frame.rgba, cv2.COLOR_RGBA2BGRA, dst=self._buffer)
            if self.settings.format == "bgrx":
                self._buffer[..., 3] = 255
            self._converted = frame.sequence
        ndi, video = self._ndi, self._video
        video.timecode = ndi.SEND_TIMECODE_SYNTHESIZE if frame.captured_ns is None else timecode(frame.captured_ns)
        video.data = self._buffer
        ndi.send_send_video_v2(self._send, video)
        self.frames_sent += 1

    def source_name(self) -> str:
        """The full name receivers see, "HOST (name)" (the configured name until it first opens)."""
        with self._lock:
            return self._source_name

    def connections(self) -> int:
        """How many receivers are connected right now."""
        with self._lock:
            return 0 if self._send is None else int(self._ndi.send_get_no_connections(self._send, 0))

    def status(self) -> dict[str, Any]:
        return {"name": self.source_name(), "width": self.width, "height": self.height, "format": self.settings.format,
                "connections": self.connections(), "frames_sent": self.frames_sent}

    def close(self) -> None:
        """Destroy the NDI source (receivers see it disappear); safe to call twice."""
        with self._lock:
            ndi, send, self._send = self._ndi, self._send, None
        if send is not None:
            ndi.send_destroy(send)
            _release_runtime(ndi)
