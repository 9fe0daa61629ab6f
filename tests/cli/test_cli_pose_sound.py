"""`rain-vtuber pose` offline with sound and expressions: the per-frame mouth a user checks lip sync with
(`--audio FILE --json`), and one named expression rendered fully (`--expression`), no GPU needed."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import typer
from typer.testing import CliRunner

from rain_vtuber.cli import pose
from rain_vtuber.errors import RainError
from tests.microphone import syllables, write_wav
from tests.sources.source_helpers import write_face_video

FPS = 25  # write_face_video's rate: frame i of the video is at i / 25 s of its sound
LEFT_EYE, RIGHT_EYE = (128, 128, 255), (255, 128, 128)  # the character's left eye is drawn on the image's right


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(pose.pose)
    return app


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def _run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_the_json_has_each_frames_mouth_from_the_recordings_sound(app: typer.Typer, tmp_path: Path) -> None:
    video = write_face_video(tmp_path / "talk.mp4", skimage.data.astronaut(), frames=3 * FPS)
    sound = write_wav(tmp_path / "talk.wav", syllables(count=5))  # bursts at 0-0.25 s, 0.6-0.85 s, ...
    out = tmp_path / "poses"
    lines = _run(app, str(video), "--audio", str(sound), "--json", "--out", str(out), "--size", "256").splitlines()
    frames = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(frames) == 3 * FPS and all(set(f["mouth"]) == {"open", "wide", "round"} for f in frames)
    phase = [(f["frame"] / FPS) % 0.6 for f in frames]
    in_words = [f["mouth"]["open"] for f, p in zip(frames, phase) if 0.05 <= p <= 0.25]
    in_pauses = [f["mouth"]["open"] for f, p in zip(frames, phase) if p >= 0.25 + 0.3]  # after the jaw's release
    assert len(in_words) >= 10 and min(in_words) > 0.5
    assert len(in_pauses) >= 3 and max(in_pauses) < 0.05
    gaps = [_inner_lip_gap(_read_rgb(out / f"pose_{f['frame']:05d}.png")) for f in frames]
    open_gaps = [g for g, p in zip(gaps, phase) if 0.1 <= p <= 0.25]
    shut_gaps = [g for g, p in zip(gaps, phase) if p >= 0.55]
    assert min(open_gaps) >= max(shut_gaps) + 3  # the drawn inner lips part with the sound (pixels at 256)


def _inner_lip_gap(image: np.ndarray) -> int:
    """Height in pixels of the inner-lip dots (colour (0, 0, 255)), from the top dot's top to the bottom dot's bottom."""
    rows = np.argwhere(np.all(image == (0, 0, 255), axis=2))[:, 0]
    return int(rows.max() - rows.min())


def test_an_expression_moves_only_its_dots(app: typer.Typer, astronaut: Path, tmp_path: Path) -> None:
    """wink_left closes the left eye; the other dots keep their place (within the pixel the spec's
    face-length transform may shift them by: it scales about the mean of all 68 points)."""
    _run(app, str(astronaut), "--out", str(tmp_path / "plain"), "--size", "256")
    _run(app, str(astronaut), "--out", str(tmp_path / "wink"), "--size", "256", "--expression", "wink_left")
    plain, wink = _read_rgb(tmp_path / "plain" / "pose_00000.png"), _read_rgb(tmp_path / "wink" / "pose_00000.png")
    for colour in {tuple(int(v) for v in c) for c in plain.reshape(-1, 3)} - {(0, 0, 0)}:
        before, after = np.argwhere(np.all(plain == colour, axis=2)), np.argwhere(np.all(wink == colour, axis=2))
        moved = float(np.abs(before.mean(axis=0) - after.mean(axis=0)).max())
        if colour == LEFT_EYE:
            assert np.ptp(after[:, 0]) < np.ptp(before[:, 0]) - 4, "the left eye did not close"
        else:
            assert moved <= 1.0, f"dots of colour {colour} moved {moved:.1f} px for a wink_left"


@pytest.mark.parametrize("args, message", [
    (["--expression", "grin"], "unknown expression 'grin'; known: angry, eyes_closed, smile, surprised"),
    (["--audio-mode", "blend"], "--audio-mode needs --audio"),
    (["--audio", "USB"], "--audio with a recorded INPUT must be its sound file"),
    (["--audio", "talk.wav", "--audio-mode", "loud"], "--audio 'talk.wav'"),
])
def test_bad_sound_and_expression_flags_are_one_line(app: typer.Typer, astronaut: Path, tmp_path: Path,
                                                      args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, [str(astronaut), "--out", str(tmp_path / "out"), *args])
    assert isinstance(result.exception, RainError) and message in str(result.exception), result.output
