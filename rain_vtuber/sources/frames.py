"""FrameSource: image sources (camera, video, folder, screen) tracked by mediapipe on the spec's square."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from rain_vtuber.face.state import FaceState
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.sources.tracker import FaceTracker, crop_square


@dataclass(frozen=True)
class TrackedFrame:
    """One square frame as the tracker saw it (HxWx3 uint8 RGB) and the face found in it, if any."""

    image: np.ndarray
    face: FaceState | None


class FrameSource(FaceSource):
    """Grab RGB frames, crop the centred square, track; threaded (latest()) or synchronous (iter_tracked()).

    Offline tools (rendering a video) iterate iter_tracked() to get every frame; live consumers
    start() the thread and poll latest(), which skips frames when they fall behind.
    """

    def __init__(self, name: str, crop_ratio: float, frame_size: int, face_model: Path,
                 static_images: bool = False) -> None:
        super().__init__(name)
        self.face_model = face_model
        self.crop_ratio = crop_ratio
        self.frame_size = frame_size
        self._static_images = static_images
        self._frame: np.ndarray | None = None
        self._frame_lock = threading.Lock()

    @abstractmethod
    def frames(self) -> Iterator[np.ndarray]:
        """HxWx3 uint8 RGB frames until the input ends; raises RainError if it cannot be opened."""

    def latest_frame(self) -> np.ndarray | None:
        """The newest square frame the tracker saw (for overlays), or None."""
        with self._frame_lock:
            return self._frame

    def iter_tracked(self) -> Iterator[TrackedFrame]:
        """Every frame with its face (None where none was found), on the calling thread."""
        with FaceTracker(self.face_model, video=not self._static_images) as tracker:
            for image in self.frames():
                self.counters.received += 1
                square = crop_square(image, self.crop_ratio, self.frame_size)
                yield TrackedFrame(square, self._track(tracker, square))

    def _track(self, tracker: FaceTracker, square: np.ndarray) -> FaceState | None:
        try:
            return tracker.track(square, source=self.name)
        except Exception as exc:  # one bad frame must not end the stream
            self.counters.errors += 1
            self.warn.warning("track", "source %s: tracking failed on a frame: %s", self.name, exc)
            return None

    def _run(self) -> None:
        for tracked in self.iter_tracked():
            if self._stopping.is_set():
                break
            with self._frame_lock:
                self._frame = tracked.image
            if tracked.face is None:
                self._lose()
            else:
                self._publish(tracked.face)
        self._lose()

    def _paced(self, frames: Iterator[np.ndarray], fps: float | None) -> Iterator[np.ndarray]:
        """Yield frames no faster than `fps` (None: as fast as they come); stops early on stop()."""
        period = 1.0 / fps if fps and fps > 0 else 0.0
        due = time.monotonic()
        for frame in frames:
            if self._stopping.is_set():
                return
            if period:
                delay = due - time.monotonic()
                if delay > 0 and self._stopping.wait(delay):
                    return
                due = max(due + period, time.monotonic() - period)  # no burst after a stall
            yield frame
