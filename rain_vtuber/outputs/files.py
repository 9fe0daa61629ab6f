"""File output: frames into a video file (.mp4, .avi, ...) or a folder of numbered PNGs.

The daemon can record its stream with it (`outputs: [{kind: file, path: stream.mp4}]`), and the
offline commands (`pose`, `render`) write through the same class, so a video that cannot be opened
is one clear error everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import cv2
from pydantic import Field

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings
from rain_vtuber.sources.video import VIDEO_SUFFIXES

FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".webm": "VP80"}


class FileSettings(OutputSettings):
    """`outputs: [{kind: file, path: ...}]`: a video file by its suffix, otherwise a folder of PNGs."""

    kind: Literal["file"] = "file"
    path: Path = Field(description="video file (.mp4, .avi, .mov, .mkv, .webm) or a folder for PNG frames")
    prefix: str = Field("frame", min_length=1, description="PNG file names: <prefix>_00000.png, ...")
    alpha: bool = Field(False, description="PNG frames keep the keyed-out background transparent")


class FileOutput(Output):
    """Writes every frame it is given (repeats too, so a video keeps the stream's timing)."""

    settings_model = FileSettings
    settings: FileSettings

    def __init__(self, settings: FileSettings, width: int, height: int, rate: FrameRate) -> None:
        super().__init__(settings, width, height, rate)
        self._video: cv2.VideoWriter | None = None
        self.count = 0

    @property
    def is_video(self) -> bool:
        return self.settings.path.suffix.lower() in VIDEO_SUFFIXES

    def open(self) -> None:
        path = self.settings.path
        try:
            (path.parent if self.is_video else path).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RainError(f"cannot create {path if not self.is_video else path.parent}: {err.strerror or err}") from None
        if not self.is_video:
            return
        fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(path.suffix.lower(), "mp4v"))
        video = cv2.VideoWriter(str(path), fourcc, self.rate.fps, (self.width, self.height))
        if not video.isOpened():
            raise RainError(f"cannot write the video {path} (no codec for {path.suffix} here?); "
                            "write PNG frames instead by giving a folder")
        self._video = video

    def write(self, frame: OutputFrame) -> None:
        if frame.width != self.width or frame.height != self.height:
            raise RainError(f"frame of {frame.width}x{frame.height} for a {self.width}x{self.height} file output")
        if self._video is not None:
            self._video.write(cv2.cvtColor(frame.rgba, cv2.COLOR_RGBA2BGR))
        else:
            image = cv2.cvtColor(frame.rgba, cv2.COLOR_RGBA2BGRA if self.settings.alpha else cv2.COLOR_RGBA2BGR)
            target = self.settings.path / f"{self.settings.prefix}_{self.count:05d}.png"
            if not cv2.imwrite(str(target), image):
                raise RainError(f"cannot write {target}; check that the folder is writable and the disk not full")
        self.count += 1

    def status(self) -> dict[str, Any]:
        return {"path": str(self.settings.path), "frames": self.count}

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
