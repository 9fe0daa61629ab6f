"""Where a frame's time goes, from its face sample to the outputs: stamps per stage and their p50/p95.

Every pose carries the capture time of its face; each stage adds its own time, and the output stage
records the stamps of every frame it hands to the outputs. `LatencyMeter` keeps p50/p95 of every
stage over the frames of the last seconds, for /rain/status.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable

from rain_vtuber.utils.stats import percentile

# what /rain/status reports under "latency", in the order a frame passes them
STAGES = ("capture_to_pose_ms", "group_wait_ms", "pile_ms", "pile_frames", "engine_step_ms", "decode_ms",
          "pacing_ms", "output_ms", "total_ms")


@dataclass(frozen=True)
class FrameStamps:
    """When (time.monotonic_ns) one frame passed each point of the stream, from its face sample on."""

    captured: int  # the face sample was captured (FaceState.timestamp_ns; the sampling tick when no face)
    posed: int  # its pose image was rendered
    grouped: int  # the engine step that took the pose's group began
    pile_frames: int  # poses pushed from that step to the one that returned the frame, both included
    stepped: int  # the step that returned the frame began
    decoding: int | None  # that step's decoder began (None: a fused step decodes inside, not timed apart)
    decoded: int  # that step returned the frame

    def stages_ms(self, sending: int, sent: int) -> dict[str, float | None]:
        """Stage -> milliseconds; consecutive stages, so the ms stages (decode aside when None) add up to total."""
        ms = 1e-6
        decode_start = self.decoded if self.decoding is None else self.decoding
        return {
            "capture_to_pose_ms": (self.posed - self.captured) * ms,
            "group_wait_ms": (self.grouped - self.posed) * ms,
            "pile_ms": (self.stepped - self.grouped) * ms,
            "pile_frames": float(self.pile_frames),
            "engine_step_ms": (decode_start - self.stepped) * ms,
            "decode_ms": None if self.decoding is None else (self.decoded - self.decoding) * ms,
            "pacing_ms": (sending - self.decoded) * ms,
            "output_ms": (sent - sending) * ms,
            "total_ms": (sent - self.captured) * ms,
        }


class LatencyMeter:
    """p50/p95 of each latency stage over the frames sent in the last `window_s` seconds.

    A time window, not a frame count, so the figures mean the same at 5 and at 60 fps.
    """

    def __init__(self, window_s: float = 5.0, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.window_ns = int(window_s * 1e9)
        self._clock_ns = clock_ns
        self._records: collections.deque[tuple[int, dict[str, float | None]]] = collections.deque()
        self._lock = threading.Lock()

    def add(self, stamps: FrameStamps, sending: int, sent: int) -> None:
        """One frame the output stage took up at `sending` and had handed to every output at `sent` (monotonic ns)."""
        with self._lock:
            self._records.append((sent, stamps.stages_ms(sending, sent)))
            self._trim()

    def p50(self, stage: str = "total_ms") -> float | None:
        return self._percentile(stage, 50)

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Stage -> {"p50", "p95"} (None without frames, or for decode inside a fused step)."""
        return {stage: {"p50": self._percentile(stage, 50), "p95": self._percentile(stage, 95)} for stage in STAGES}

    def _percentile(self, stage: str, q: float) -> float | None:
        with self._lock:
            self._trim()
            values = [v for _, r in self._records if (v := r[stage]) is not None]
        return percentile(values, q)

    def _trim(self) -> None:
        cutoff = self._clock_ns() - self.window_ns
        while self._records and self._records[0][0] < cutoff:
            self._records.popleft()
