"""Webcam by index via OpenCV, tracked by mediapipe."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.sources.frames import FrameSource

_MAX_FAILED_READS = 60  # ~2 s of a 30 fps camera delivering nothing


class WebcamSource(FrameSource):
    """cv2.VideoCapture(index) at the requested capture size; the camera paces the loop."""

    def __init__(self, camera: int, width: int | None, height: int | None, crop_ratio: float, frame_size: int,
                 face_model: Path) -> None:
        super().__init__(f"webcam{camera}", crop_ratio, frame_size, face_model)
        self.camera, self.width, self.height = camera, width, height

    def frames(self) -> Iterator[np.ndarray]:
        capture = cv2.VideoCapture(self.camera)
        try:
            if not capture.isOpened():
                raise RainError(
                    f"camera {self.camera} could not be opened: check it is plugged in, not used by another "
                    "program, and pick another index with --camera"
                )
            # MJPG: many webcams deliver 720p at full rate only compressed; a 1-frame buffer keeps latency low.
            # Both are requests: cameras that cannot honour them keep their defaults.
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if self.width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            failed = 0
            while not self._stopping.is_set():
                ok, frame = capture.read()
                if not ok or frame is None:
                    failed += 1
                    if failed >= _MAX_FAILED_READS:
                        raise RainError(f"camera {self.camera} stopped delivering frames: reconnect it and restart")
                    continue
                failed = 0
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()
