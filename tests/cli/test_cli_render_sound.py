"""`rain-vtuber render --faces ... --audio SOUND` on the tiny weights: the recording's sound drives the
mouth of each frame on the recording's clock. With the same seed, a silent track renders exactly the
frames of no sound at all (nothing but the poses differs), and speech renders other frames.

The faces are a folder of photos (`--fps` is their clock): the tracker takes each photo on its own,
so two runs see the same faces (a video's tracker smooths across frames with wall-clock times).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from typer.testing import CliRunner

from rain_vtuber.cli.main import _register, app
from rain_vtuber.errors import RainError
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS
from tests.microphone import SAMPLE_RATE, syllables, write_wav

_register()
FRAMES = 12


def _render(out: Path, video: Path, *extra: str) -> np.ndarray:
    result = CliRunner().invoke(app, ["render", "--weights", str(TINY_WEIGHTS), "--engine-config", str(TINY_CONFIG),
                                      "--faces", str(video), "--fps", "25", "--character", "default", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return np.stack([cv2.imread(str(p)) for p in sorted(out.glob("frame_*.png"))])


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FRAMES photos of the astronaut sliding sideways 2 px a frame."""
    folder = tmp_path_factory.mktemp("talk")
    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    for index in range(FRAMES):
        cv2.imwrite(str(folder / f"face_{index:03d}.png"), np.roll(face, 2 * index, axis=1))
    return folder


@pytest.mark.slow  # three renders on the tiny weights
def test_silence_changes_nothing_and_speech_changes_the_frames(video: Path, tmp_path: Path) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(SAMPLE_RATE, np.float32))
    speech = write_wav(tmp_path / "speech.wav", syllables(count=2, on_s=0.4, off_s=0.1))
    plain = _render(tmp_path / "plain", video)
    silent = _render(tmp_path / "silent", video, "--audio", str(quiet))
    spoken = _render(tmp_path / "spoken", video, "--audio", str(speech), "--audio-mode", "always")
    assert plain.shape == (FRAMES, 128, 128, 3)
    np.testing.assert_array_equal(silent, plain)  # the same seed, the same poses: the same frames
    assert np.abs(spoken.astype(int) - plain.astype(int)).mean() > 1.0  # the open mouth changed the poses


def test_audio_goes_with_a_face_recording_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["render", "--poses", str(tmp_path), "--reference", str(tmp_path / "r.png"),
                                      "--audio", str(tmp_path / "talk.wav"), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, RainError) and "--audio goes with --faces" in str(result.exception)
