"""FileOutput: the one writer of videos and PNG folders (daemon recording, `pose`, `render`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.files import FileOutput, FileSettings
from rain_vtuber.outputs.stage import to_output_rgba
from tests.outputs.test_stage import GREEN, scene


def _write(settings: FileSettings, frames: list[OutputFrame], size: int = 64) -> FileOutput:
    output = FileOutput(settings, size, size, FrameRate(25))
    output.open()
    try:
        for frame in frames:
            output.write(frame)
    finally:
        output.close()
    return output


def test_a_video_keeps_every_frame_at_the_rate(tmp_path: Path) -> None:
    frames = [OutputFrame.opaque(np.full((64, 64, 3), 40 * i, np.uint8), i) for i in range(5)]
    output = _write(FileSettings(path=tmp_path / "rec" / "clip.mp4"), frames)
    capture = cv2.VideoCapture(str(tmp_path / "rec" / "clip.mp4"))
    read = []
    while (ok := capture.read())[0]:
        read.append(ok[1])
    assert output.status() == {"path": str(tmp_path / "rec" / "clip.mp4"), "frames": 5}
    assert len(read) == 5 and capture.get(cv2.CAP_PROP_FPS) == 25
    assert [int(round(float(f.mean()))) for f in read] == pytest.approx([0, 40, 80, 120, 160], abs=3)


def test_png_frames_are_numbered_and_keep_alpha_when_asked(tmp_path: Path) -> None:
    keyed = OutputFrame(to_output_rgba(scene(), 64, 64, GREEN, 24), None, 1)
    _write(FileSettings(path=tmp_path / "opaque"), [keyed, keyed])
    _write(FileSettings(path=tmp_path / "alpha", prefix="pose", alpha=True), [keyed])
    assert sorted(p.name for p in (tmp_path / "opaque").iterdir()) == ["frame_00000.png", "frame_00001.png"]
    opaque = cv2.imread(str(tmp_path / "opaque" / "frame_00000.png"), cv2.IMREAD_UNCHANGED)
    alpha = cv2.imread(str(tmp_path / "alpha" / "pose_00000.png"), cv2.IMREAD_UNCHANGED)
    assert opaque.shape == (64, 64, 3) and tuple(opaque[1, 1]) == (0, 200, 0)  # BGR
    assert alpha.shape == (64, 64, 4) and alpha[1, 1, 3] == 0 and alpha[32, 32, 3] == 255


def test_a_video_that_cannot_be_opened_is_one_line_before_any_frame(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").mkdir()  # a folder where the file should go: the writer cannot open it
    output = FileOutput(FileSettings(path=tmp_path / "clip.mp4"), 64, 64, FrameRate(25))
    with pytest.raises(RainError, match="cannot write the video .*clip.mp4.*write PNG frames instead"):
        output.open()
    output.close()


def test_a_frame_of_another_size_is_refused(tmp_path: Path) -> None:
    output = FileOutput(FileSettings(path=tmp_path / "frames"), 64, 64, FrameRate(25))
    output.open()
    with pytest.raises(RainError, match="frame of 32x32 for a 64x64 file output"):
        output.write(OutputFrame.opaque(np.zeros((32, 32, 3), np.uint8)))
