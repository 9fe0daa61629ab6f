"""NDI receiver for checks: finds a source by name on loopback and reads its video frames.

The daemon tests and `rain-vtuber device-check` watch the daemon's output through it, as OBS would.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.ndi import _acquire_runtime, _release_runtime

FINDER_RETRY_S = 0.5  # a finder that reached this process lists its sources within milliseconds


def _rate(video: Any) -> tuple[int, int]:
    return video.frame_rate_N, video.frame_rate_D


class NdiProbe:
    """An NDI receiver (finder with extra_ips=127.0.0.1) connected to the first source whose name contains `name`."""

    def __init__(self, name: str, timeout: float = 30.0) -> None:
        ndi = self.ndi = _acquire_runtime()
        create = ndi.FindCreate()
        create.extra_ips = "127.0.0.1"
        source = None
        deadline = time.monotonic() + timeout
        while source is None and time.monotonic() < deadline:
            # Every NDI process on the host listens on TCP 5960 (SO_REUSEPORT): a finder may be talking
            # to one that does not know the source, so a fresh finder asks again. 10 finds beside 2-3 other
            # NDI processes: retrying every 5 s, one missed for 20 s; every 0.5 s, all took under 4.3 s.
            self._find = ndi.find_create_v2(create)
            retry_at = min(deadline, time.monotonic() + FINDER_RETRY_S)
            while source is None and time.monotonic() < retry_at:
                ndi.find_wait_for_sources(self._find, 200)
                source = next((s for s in ndi.find_get_current_sources(self._find) if f"({name})" in s.ndi_name), None)
            if source is None:
                ndi.find_destroy(self._find)
        if source is None:
            _release_runtime(ndi)
            raise RainError(f"NDI source '{name}' not found within {timeout:g} s")
        self.source_name = source.ndi_name
        recv = ndi.RecvCreateV3()
        recv.color_format = ndi.RECV_COLOR_FORMAT_BGRX_BGRA
        self._recv = ndi.recv_create_v3(recv)
        ndi.recv_connect(self._recv, source)

    def capture(self, duration: float) -> list[tuple[float, np.ndarray, tuple[int, int]]]:
        """Video frames received during `duration` s: (arrival monotonic time, HxWx4 BGRA copy, (rate N, D)).

        Frames NDI queued while nobody was reading are dropped first, so arrival times are live.
        """
        return [(t, video.data.copy(), _rate(video)) for t, _, video in self._frames(duration)]

    def capture_timecodes(self, duration: float) -> list[tuple[int, int, tuple[int, int]]]:
        """Like capture(): (arrival time.time_ns(), the frame's NDI timecode in 100 ns units, (rate N, D))."""
        return [(wall, video.timecode, _rate(video)) for _, wall, video in self._frames(duration)]

    def _frames(self, duration: float) -> Iterator[tuple[float, int, Any]]:
        """(arrival monotonic s, arrival time.time_ns(), video frame) for each live frame; freed after use."""
        while (kind := self.ndi.recv_capture_v2(self._recv, 0))[0] != self.ndi.FRAME_TYPE_NONE:
            if kind[0] == self.ndi.FRAME_TYPE_VIDEO:
                self.ndi.recv_free_video_v2(self._recv, kind[1])
        deadline = time.monotonic() + duration
        while (left := deadline - time.monotonic()) > 0:
            kind, video, _, _ = self.ndi.recv_capture_v2(self._recv, int(min(left, 0.1) * 1000) + 1)
            if kind == self.ndi.FRAME_TYPE_VIDEO:
                yield time.monotonic(), time.time_ns(), video
                self.ndi.recv_free_video_v2(self._recv, video)

    def close(self) -> None:
        """Destroy the receiver (safe to call twice: a test may close it early)."""
        if self._recv is not None:
            self.ndi.recv_destroy(self._recv)
            self.ndi.find_destroy(self._find)
            self._recv = None
            _release_runtime(self.ndi)
