"""`rain-vtuber render` end to end on the tiny weights: one frame out per pose frame in."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from rain_vtuber.cli.main import _register, app
from tests.engine.golden import GOLDEN, TINY_CONFIG, TINY_WEIGHTS

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
_register()


def invoke(*args: str):
    return runner.invoke(app, ["render", "--weights", str(TINY_WEIGHTS), "--engine-config", str(TINY_CONFIG), *args])


def test_pose_folder_to_png_folder(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = invoke("--poses", str(GOLDEN / "pose_png"), "--reference", str(GOLDEN / "reference_input.png"), "--out", str(out))
    assert result.exit_code == 0, result.output
    frames = sorted(out.glob("frame_*.png"))
    assert len(frames) == 24
    first, last = cv2.imread(str(frames[0])), cv2.imread(str(frames[-1]))
    assert first.shape == (128, 128, 3) and not np.array_equal(first, last)


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
