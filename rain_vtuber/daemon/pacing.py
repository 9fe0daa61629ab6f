"""Pacing: turn bursts of 4 engine frames into evenly spaced output, newest wins when behind.

The engine emits frames in groups; OBS wants one frame every period. A `Ticker` keeps a monotonic
schedule (resetting after a large drift instead of bursting to catch up), a `FrameQueue` holds at most
`max_frames` finished frames and drops the oldest beyond that, and `LatencyMeter` keeps p50/p95 of
every stage a frame went through (face capture -> pose -> engine -> decode -> NDI) over the last seconds.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Clock = Callable[[], float]


class Ticker:
    """Fixed-period schedule on a monotonic clock.

    wait() sleeps until the next tick. If the caller fell more than `drift_reset` periods behind
    (a stall, a suspended laptop), the schedule restarts from now instead of firing the missed ticks.
    """

    def __init__(self, fps: float, drift_reset: float = 5.0, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.drift_reset = drift_reset
        self.resets = 0
        self.set_fps(fps)

    def set_fps(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._next = self._clock() + self.period

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next tick; False if `stop` was set meanwhile."""
        delay = self._next - self._clock()
        if delay > 0 and stop.wait(delay):
            return False
        now = self._clock()
        if now - self._next > self.drift_reset * self.period:
            self.resets += 1
            self._next = now
        self._next += self.period
        return not stop.is_set()


# what /rain/status reports under "latency", in the order a frame passes them
STAGES = ("capture_to_pose_ms", "group_wait_ms", "pile_ms", "pile_frames", "engine_step_ms", "decode_ms",
          "pacing_ms", "ndi_send_ms", "total_ms")


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
            "ndi_send_ms": (sent - sending) * ms,
            "total_ms": (sent - self.captured) * ms,
        }


@dataclass(frozen=True)
class Timed:
    """A finished frame and its stamps."""

    frame: np.ndarray
    stamps: FrameStamps


class FrameQueue:
    """Bounded FIFO between the engine thread and the output thread; overflow drops the oldest frames."""

    def __init__(self, max_frames: int = 8) -> None:
        self.max_frames = max_frames
        self._items: collections.deque[Timed] = collections.deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def put_many(self, frames: Sequence[np.ndarray], stamps: Sequence[FrameStamps]) -> None:
        with self._lock:
            self._items.extend(Timed(f, t) for f, t in zip(frames, stamps))
            while len(self._items) > self.max_frames:
                self._items.popleft()
                self.dropped += 1

    def pop(self) -> Timed | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Slot:
    """One-item mailbox: put() replaces an unread item (counted as dropped); get() waits for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object | None = None
        self.dropped = 0

    def put(self, item: object) -> bool:
        """Store item; True if it replaced one the reader never took."""
        with self._cond:
            replaced = self._item is not None
            self.dropped += replaced
            self._item = item
            self._cond.notify()
            return replaced

    def get(self, timeout: float) -> object | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def clear(self) -> None:
        with self._cond:
            self._item = None


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
        """One frame that began its NDI send at `sending` and finished it at `sent` (monotonic ns)."""
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
        return round(float(np.percentile(values, q)), 1) if values else None

    def _trim(self) -> None:
        cutoff = self._clock_ns() - self.window_ns
        while self._records and self._records[0][0] < cutoff:
            self._records.popleft()


class RateMeter:
    """Events per second over a sliding window (the measured output fps)."""

    def __init__(self, window_s: float = 2.0, clock: Clock = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self._times.append(self._clock())
            self._trim()

    def rate(self) -> float:
        with self._lock:
            self._trim()
            return len(self._times) / self.window_s

    def _trim(self) -> None:
        cutoff = self._clock() - self.window_s
        while self._times and self._times[0] < cutoff:
            self._times.popleft()


def sustainable_fps(step_seconds: Sequence[float], group_size: int, headroom: float, max_fps: float) -> float:
    """Median engine step time -> the output rate it can hold with some headroom (whole fps, >= 1)."""
    step = float(np.median(step_seconds))
    return float(max(1.0, min(max_fps, np.floor(group_size / step * headroom))))
