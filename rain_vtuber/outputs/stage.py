"""OutputStage: the stream's master clock, and what every output shares.

Once per output period the stage takes the next finished frame from the engine (or repeats the last
one, or shows the character's picture before the first), brings it to the output size, keys the
background out once for every output, stamps it with the capture time of its face and offers it to
every output's runner. The engine delivers frames in groups (4 per step); a bounded FIFO holds them
and the stage sends one per period, never a burst. The rate is snapped once (to what OBS offers) and
told to the clock and to every output.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.latency import FrameStamps, LatencyMeter
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.utils.clock import RateMeter, Ticker
from rain_vtuber.utils.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

QUEUE_SLACK = 2  # finished frames held beyond one engine group: absorbs jitter, caps the added latency

Colour = tuple[int, int, int]


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


def to_output_rgba(rgb: np.ndarray, width: int, height: int, key: Colour | None, tolerance: int) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (height, width, 4) uint8 RGBA: resized, alpha 0 within `tolerance` of `key`."""
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, f"expected HxWx3 uint8, got {rgb.shape}"
    if rgb.shape[:2] != (height, width):
        shrink = rgb.shape[0] > height
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    if key is not None:
        distance = np.abs(rgb.astype(np.int16) - np.asarray(key, np.int16)).max(axis=2)
        rgba[..., 3][distance <= tolerance] = 0
    return rgba


class OutputStage:
    """Paces, sizes and keys frames for every output; its thread is the output clock."""

    def __init__(self, runners: Mapping[str, OutputRunner], size: int, fps: float, key_tolerance: int = 24) -> None:
        self.runners = dict(runners)
        self.width = self.height = size
        self.key_tolerance = key_tolerance
        self.frames = FrameQueue(4 + QUEUE_SLACK)
        self.latency = LatencyMeter()
        self.output_rate = RateMeter()
        self.rate = FrameRate.nearest(fps)
        self._ticker = Ticker(self.rate.fps)
        self._lock = threading.Lock()
        self._key: Colour | None = None
        self._picture: np.ndarray | None = None  # shown until the engine's first frame
        self._last: OutputFrame | None = None
        self._offered = -1  # sequence of the last frame offered: a frame offered again is a repeat
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._warn = RateLimitedLog(log)

    @property
    def clock_resets(self) -> int:
        """Times the clock restarted after a stall instead of bursting to catch up."""
        return self._ticker.resets

    def set_rate(self, fps: float) -> FrameRate:
        """Snap `fps` to the nearest standard rate, run the clock at it and tell every output; returns it."""
        self.rate = FrameRate.nearest(fps)
        self._ticker.set_fps(self.rate.fps)
        for runner in self.runners.values():
            runner.set_rate(self.rate)
        return self.rate

    def set_group_size(self, frames: int) -> None:
        """The engine delivers `frames` at a time: hold one group plus a little slack, drop beyond."""
        self.frames.max_frames = frames + QUEUE_SLACK

    def reset_latency(self) -> None:
        """Forget the latency figures so far (a new latency mode reports its own)."""
        self.latency = LatencyMeter()

    def set_key(self, colour: Colour | None) -> None:
        """Key this RGB colour out of every frame from now on (None: opaque)."""
        with self._lock:
            self._key = colour
            if self._picture is not None:
                self._show(self._picture)

    def show_picture(self, rgb: np.ndarray) -> None:
        """Show this picture (the character's reference) until the engine's next frame."""
        with self._lock:
            self._picture = rgb
            self._show(rgb)

    def _show(self, rgb: np.ndarray) -> None:
        """Make `rgb` the frame repeated until a new one comes (lock held)."""
        self._sequence += 1
        self._last = OutputFrame(to_output_rgba(rgb, self.width, self.height, self._key, self.key_tolerance),
                                 None, self._sequence)

    def deliver(self, frames: Sequence[np.ndarray], stamps: Sequence[FrameStamps]) -> None:
        """Finished frames from the engine, oldest first (the FIFO drops the oldest beyond its size)."""
        self.frames.put_many(frames, stamps)

    def start(self, stop: threading.Event) -> None:
        for runner in self.runners.values():
            runner.start()
        self._thread = threading.Thread(target=self._run, args=(stop,), name="rain-output", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Close every output (each within `timeout` s); the clock thread ends with the stop event."""
        for runner in self.runners.values():
            runner.close(timeout)

    def status(self) -> dict[str, dict[str, Any]]:
        """Output name -> its runner's status."""
        return {name: runner.status() for name, runner in self.runners.items()}

    def _run(self, stop: threading.Event) -> None:
        while self._ticker.wait(stop):
            try:
                self._tick()
            except Exception as err:  # the clock carries on: one bad frame must not stop the outputs
                self._warn.warning("tick", "output stage failed: %s: %s", type(err).__name__, err)
                log.debug("output stage failed", exc_info=err)

    def _tick(self) -> None:
        item = self.frames.pop()
        began = time.monotonic_ns()
        with self._lock:
            if item is not None:
                self._picture = None
                self._sequence += 1
                rgba = to_output_rgba(item.frame, self.width, self.height, self._key, self.key_tolerance)
                self._last = OutputFrame(rgba, item.stamps.captured, self._sequence)
            frame = self._last
        if frame is None:
            return
        if frame.sequence == self._offered:
            frame = OutputFrame(frame.rgba, frame.captured_ns, frame.sequence, repeat=True)
        self._offered = frame.sequence
        for runner in self.runners.values():
            runner.offer(frame)
        if item is not None:
            self.latency.add(item.stamps, began, time.monotonic_ns())
        self.output_rate.tick()
