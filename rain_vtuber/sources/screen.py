"""A screen region or a whole monitor via mss (e.g. a video call window), tracked by mediapipe."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.sources.frames import FrameSource


class ScreenSource(FrameSource):
    """Grabs `region` (left, top, width, height) or monitor `monitor` (1 = primary, 0 = all) at `fps`."""

    def __init__(self, monitor: int, region: tuple[int, int, int, int] | None, crop_ratio: float, frame_size: int,
                 face_model: Path, fps: float = 30.0) -> None:
        super().__init__(f"screen{monitor}" if region is None else "screen-region", crop_ratio, frame_size, face_model)
        self.monitor, self.region, self.fps = monitor, region, fps

    def _grabs(self) -> Iterator[np.ndarray]:
        import mss  # imported here: it needs a display only when a screen source is used
        import mss.exception

        grabber_class = getattr(mss, "MSS", None) or mss.mss  # mss >= 10.2 renamed the factory
        try:
            with grabber_class() as grabber:
                if self.region is not None:
                    left, top, width, height = self.region
                    area = {"left": left, "top": top, "width": width, "height": height}
                elif 0 <= self.monitor < len(grabber.monitors):
                    area = grabber.monitors[self.monitor]
                else:
                    raise RainError(f"monitor {self.monitor} does not exist: pick 0..{len(grabber.monitors) - 1}")
                while not self._stopping.is_set():
                    shot = np.asarray(grabber.grab(area))  # H x W x 4, BGRA
                    yield np.ascontiguousarray(shot[:, :, 2::-1])
        except mss.exception.ScreenShotError as exc:
            raise RainError(f"screen capture failed ({exc}): is a display available and the region on screen?") from exc

    def frames(self) -> Iterator[np.ndarray]:
        yield from self._paced(self._grabs(), self.fps)
