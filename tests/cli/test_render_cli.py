"""`rain-vtuber render` end to end on the tiny weights: one frame out per pose frame in, and the frames
are those the engine makes from the golden inputs (the upstream pose tensors and fused reference
states), so file reading, colour order, frame order and writing are all checked against data the CLI
did not produce."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from rain_vtuber.cli.main import _register, app
from rain_vtuber.engine.offline import render_stream
from rain_vtuber.engine import RainEngine
from tests.engine.golden import GOLDEN, TINY_CONFIG, TINY_WEIGHTS, golden, golden_reference

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
MP4_ERROR = 12.0  # mean abs uint8 error of a frame after two mp4v round trips (measured 7.6-9.8; swapped colours 52-74)
_register()


def invoke(*args: str):
    return runner.invoke(app, ["render", "--weights", str(TINY_WEIGHTS), "--engine-config", str(TINY_CONFIG), *args])


@lru_cache(maxsize=None)
def expected(count: int) -> np.ndarray:
    """RGB frames for the first `count` golden poses: the CLI's seed and decoder, golden inputs throughout."""
    engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, device="cpu", dtype="fp32", decoder="taesdv", cache_dir=None)
    engine.set_reference(golden_reference())
    return np.stack(list(render_stream(engine, golden("pose")["pose_images"].numpy()[:count])))


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.slow  # 24 frames of the tiny stream, twice (the CLI's and the expected)
def test_pose_folder_to_png_folder(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = invoke("--poses", str(GOLDEN / "pose_png"), "--reference", str(GOLDEN / "reference_input.png"), "--out", str(out))
    assert result.exit_code == 0, result.output
    frames = np.stack([read_rgb(p) for p in sorted(out.glob("frame_*.png"))])
    assert frames.shape == (24, 128, 128, 3)
    # our fusion of reference_input.png vs upstream's fp16 banks: a level or two of uint8 at most
    err = np.abs(frames.astype(int) - expected(24).astype(int))
    assert err.max() <= 3 and err.mean() < 0.5, (err.max(), err.mean())
    assert not np.array_equal(frames[0], frames[-1])


@pytest.mark.slow  # 10 frames of the tiny stream, twice, and two mp4 round trips
def test_pose_video_to_mp4(tmp_path: Path) -> None:
    video = tmp_path / "poses.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 16, (128, 128))
    for png in sorted((GOLDEN / "pose_png").glob("*.png"))[:10]:
        writer.write(cv2.imread(str(png)))
    writer.release()
    out = tmp_path / "clip.mp4"
    result = invoke("--poses", str(video), "--reference", str(GOLDEN / "reference_input.png"), "--out", str(out))
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (128, 128)
    # mp4v is lossy twice (poses in, frames out): the same clip within compression noise, frame by
    # frame, and clearly closer to it than the same frame with red and blue swapped
    errors = []
    for i, want in enumerate(expected(10)):
        ok, frame = capture.read()
        assert ok, f"frame {i} unreadable"
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(int)
        errors.append((np.abs(rgb - want).mean(), np.abs(rgb[..., ::-1] - want).mean()))
    print("mp4 mean abs error per frame (as is, channels swapped):", [(round(a, 1), round(b, 1)) for a, b in errors])
    assert all(err < MP4_ERROR and err < 0.5 * swapped for err, swapped in errors), errors


def test_face_video_through_the_landmark_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage.data import astronaut

    video = tmp_path / "face.mp4"
    face = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 16, face.shape[1::-1])
    for _ in range(5):
        writer.write(face)
    writer.release()
    monkeypatch.chdir(REPO)  # characters/default + calibration/default.yaml
    out = tmp_path / "frames"
    result = invoke("--faces", str(video), "--character", "default", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("frame_*.png"))) == 5


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    result = invoke("--poses", str(tmp_path), "--reference", str(GOLDEN / "reference_input.png"), "--out", str(tmp_path / "o"))
    assert result.exit_code != 0
    assert "no pose images" in str(result.exception)


def test_old_config_spelling_still_works_with_a_warning_and_o_is_out(tmp_path: Path) -> None:
    poses = tmp_path / "poses"
    poses.mkdir()
    for png in sorted((GOLDEN / "pose_png").glob("*.png"))[:2]:
        (poses / png.name).write_bytes(png.read_bytes())
    args = ["render", "--weights", str(TINY_WEIGHTS), "--poses", str(poses), "--reference", str(GOLDEN / "reference_input.png")]
    result = runner.invoke(app, [*args, "--config", str(TINY_CONFIG), "-o", str(tmp_path / "frames")])
    assert result.exit_code == 0, result.output
    assert "--config is deprecated here: use --engine-config" in result.output
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 2
    both = runner.invoke(app, [*args, "--config", str(TINY_CONFIG), "--engine-config", str(TINY_CONFIG), "-o", "x"])
    assert both.exit_code != 0 and "give the RAIN config once" in str(both.exception)


def test_help_shows_one_meaning_per_flag() -> None:
    for command in ("render", "calibrate", "doctor"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
        assert "--engine-config" in text and "--config " not in text, command
    for command in ("render", "pose"):
        assert re.search(r"--out\s+-o\b", runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output)
    daemon_help = runner.invoke(app, ["daemon", "--help"], env={"COLUMNS": "200"}).output
    assert "--config " in daemon_help and "--engine-config" in daemon_help and "--control-host" in daemon_help
