"""Recorded faces: a video file, a folder of images, or one image; for offline rendering and tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Literal

import cv2
import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.sources.frames import FrameSource

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
FILE_CHECK_S = 1.0  # how often a playing video checks that its file is still there


def read_rgb(path: Path) -> np.ndarray | None:
    """An image file as HxWx3 uint8 RGB, None if it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_files(folder: Path, what: str = "images") -> list[Path]:
    """The images in `folder`, sorted by name; RainError naming `what` when there are none."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise RainError(f"no {what} ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return paths


def recorded_kind(path: Path) -> Literal["folder", "video", "image"]:
    """Which recorded-face source kind reads `path`: a folder, a video (by suffix) or one image."""
    if path.is_dir():
        return "folder"
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


class VideoSource(FrameSource):
    """A video file; with `realtime` it plays at the file's frame rate, with `loop` it starts over.

    A file deleted, cut short or rewritten while it plays is an error (the thread reports it and
    reopens the file with backoff until it reads again), not garbage frames or a silent end.
    """

    def __init__(self, path: Path, crop_ratio: float, frame_size: int, face_model: Path, realtime: bool = False,
                 loop: bool = False) -> None:
        super().__init__(path.name, crop_ratio, frame_size, face_model)
        self.path, self.realtime, self.loop = path, realtime, loop

    def frames(self) -> Iterator[np.ndarray]:
        opened = self._file_signature()
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                raise RainError(f"cannot open video {self.path}: check the path and that it is a video OpenCV can read")
            fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
            yield from self._paced(self._decoded(capture, opened), fps if self.realtime else None)
        finally:
            capture.release()

    def _decoded(self, capture: cv2.VideoCapture, opened: tuple[int, int, int]) -> Iterator[np.ndarray]:
        checked = time.monotonic()
        while True:
            count = 0
            ok, frame = capture.read()
            while ok:
                count += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if time.monotonic() - checked > FILE_CHECK_S:  # an open file plays on after it is deleted
                    self._check_unchanged(opened)
                    checked = time.monotonic()
                ok, frame = capture.read()
            self._check_unchanged(opened)
            if not count:
                raise RainError(f"video {self.path} has no frames: check that the file is complete")
            if not self.loop:
                return
            if not capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
                raise RainError(f"video {self.path} cannot be rewound to loop")

    def _file_signature(self) -> tuple[int, int, int]:
        """(inode, size, mtime): what changes when the file is deleted, cut short or rewritten."""
        try:
            stat = self.path.stat()
        except OSError:
            raise RainError(f"video {self.path} is gone: put the file back (the source retries)") from None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    def _check_unchanged(self, opened: tuple[int, int, int]) -> None:
        if self._file_signature() != opened:
            raise RainError(f"video {self.path} changed while playing (cut short or rewritten): reopening it")


class ImageFolderSource(FrameSource):
    """Images in a folder in name order (or one image), at `fps` when `realtime`; `loop` repeats them.

    Each image is tracked as a photo of its own (mediapipe's IMAGE mode), not as a video frame.
    """

    def __init__(self, path: Path, crop_ratio: float, frame_size: int, face_model: Path, realtime: bool = False,
                 loop: bool = False, fps: float = 30.0) -> None:
        super().__init__(path.name, crop_ratio, frame_size, face_model, static_images=True)
        self.path, self.realtime, self.loop, self.fps = path, realtime, loop, fps

    def image_paths(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise RainError(f"{self.path} is neither an image nor a folder of images: check the path")
        return image_files(self.path)

    def _images(self) -> Iterator[np.ndarray]:
        """Each pass lists the folder again, so images deleted or added while it plays are noticed."""
        while True:
            shown = 0
            for path in self.image_paths():
                image = read_rgb(path)
                if image is None:
                    self.counters.rejected += 1
                    self.warn.warning("unreadable", "source %s: cannot read image %s, skipped", self.name, path)
                    continue
                shown += 1
                yield image
            if not shown:
                raise RainError(f"no readable image in {self.path}: check the files")
            if not self.loop:
                return

    def frames(self) -> Iterator[np.ndarray]:
        yield from self._paced(self._images(), self.fps if self.realtime else None)

