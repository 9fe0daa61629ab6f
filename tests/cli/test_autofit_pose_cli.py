"""Acceptance: `rain-vtuber pose face.png --out DIR`, no flags, default character, real mediapipe on a real photo.

Wherever the face is in the photo and however big, the eye dots land on the default character's drawn
eyes (within 25 px at 512x512) at the drawn eye distance (within 20%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import skimage.data
from typer.testing import CliRunner

from rain_vtuber.cli.main import _register, app
from tests.landmarks.drawn_face import drawn_eyes, eye_dots

REPO = Path(__file__).resolve().parents[2]
EYE_TOLERANCE_PX = 25
DISTANCE_TOLERANCE = 0.2


def _close_up(photo: np.ndarray) -> np.ndarray:
    """The astronaut's head and shoulders only: the face fills the frame."""
    return photo[20:260, 90:330]


def _padded(photo: np.ndarray, fraction: float = 0.75) -> np.ndarray:
    """The photo centred on a black canvas it covers `fraction` of: a smaller face further away."""
    height, width = photo.shape[:2]
    canvas = np.zeros((round(height / fraction), round(width / fraction), 3), np.uint8)
    top, left = (canvas.shape[0] - height) // 2, (canvas.shape[1] - width) // 2
    canvas[top:top + height, left:left + width] = photo
    return canvas


def _shifted(fx: float, fy: float) -> Callable[[np.ndarray], np.ndarray]:
    """Move the photo by (fx, fy) of the frame, black where it left."""
    def shift(photo: np.ndarray) -> np.ndarray:
        height, width = photo.shape[:2]
        return cv2.warpAffine(photo, np.float32([[1, 0, fx * width], [0, 1, fy * height]]), (width, height))
    return shift


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as is": lambda photo: photo,
    "close-up": _close_up,
    "padded to 0.75x": _padded,
    "shifted right 20%": _shifted(0.2, 0.0),
    "shifted left 20%": _shifted(-0.2, 0.0),
    "shifted down 20%": _shifted(0.0, 0.2),
}


@pytest.fixture(scope="module")
def cli() -> Callable[..., None]:
    _register()

    def run(*args: str) -> None:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output + repr(result.exception)

    return run


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's view: run from the project folder, so calibration/default.yaml is the default."""
    monkeypatch.chdir(REPO)


def _write(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def _eye_distance(eyes: np.ndarray) -> float:
    return float(np.linalg.norm(eyes[1] - eyes[0]))


def _assert_on_drawn_eyes(pose: Path) -> None:
    image = cv2.cvtColor(cv2.imread(str(pose)), cv2.COLOR_BGR2RGB)
    assert image.shape == (512, 512, 3)
    eyes, drawn = eye_dots(image), drawn_eyes()
    assert np.linalg.norm(eyes - drawn, axis=1).max() < EYE_TOLERANCE_PX, (eyes, drawn)
    assert abs(_eye_distance(eyes) / _eye_distance(drawn) - 1) < DISTANCE_TOLERANCE


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_photo_lands_on_the_drawn_eyes(cli: Callable[..., None], variant: Callable, tmp_path: Path) -> None:
    face = _write(tmp_path / "face.png", variant(skimage.data.astronaut()))
    cli("pose", str(face), "--out", str(tmp_path / "out"))
    _assert_on_drawn_eyes(tmp_path / "out" / "pose_00000.png")


def test_without_auto_fit_the_photo_misses(cli: Callable[..., None], tmp_path: Path) -> None:
    """What auto-fit fixes: the astronaut's small, high face puts the eye dots off the drawn eyes."""
    face = _write(tmp_path / "face.png", skimage.data.astronaut())
    cli("pose", str(face), "--out", str(tmp_path / "out"), "--no-auto-fit")
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / "pose_00000.png")), cv2.COLOR_BGR2RGB)
    eyes, drawn = eye_dots(image), drawn_eyes()
    assert np.linalg.norm(eyes - drawn, axis=1).max() > 2 * EYE_TOLERANCE_PX
    assert _eye_distance(eyes) < (1 - DISTANCE_TOLERANCE) * _eye_distance(drawn)


def test_video_fits_after_the_first_steady_second(cli: Callable[..., None], tmp_path: Path) -> None:
    """A video's face is fitted once it held still for a second of the file's own clock, not before."""
    frame = cv2.cvtColor(_padded(skimage.data.astronaut()), cv2.COLOR_RGB2BGR)
    video = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, frame.shape[1::-1])
    for _ in range(45):
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    cli("pose", str(video), "--out", str(out), "--fps", "30")
    first = cv2.cvtColor(cv2.imread(str(out / "pose_00000.png")), cv2.COLOR_BGR2RGB)
    assert np.linalg.norm(eye_dots(first) - drawn_eyes(), axis=1).max() > 2 * EYE_TOLERANCE_PX
    _assert_on_drawn_eyes(out / "pose_00044.png")
