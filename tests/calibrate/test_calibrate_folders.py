"""`rain-vtuber calibrate` without --root writes where the daemon looks, and says where."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import typer
from skimage import data
from typer.testing import CliRunner

from rain_vtuber.cli.calibrate import calibrate
from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import load_calibration
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.paths import PACKAGED_HOME, data_home

app = typer.Typer()
app.command()(calibrate)
app.command("unused")(lambda: None)  # two commands keep "calibrate" as a sub-command name, like the real CLI


def _invoke(*args: str | Path) -> object:
    return CliRunner().invoke(app, ["calibrate", *map(str, args)], env={"COLUMNS": "400"})


@pytest.fixture
def elsewhere(new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "inputs" / "cat.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), data.chelsea()[..., ::-1])
    return path


def test_new_characters_go_to_the_user_folder_unless_the_current_one_has_characters(elsewhere: Path, image: Path) -> None:
    result = _invoke("cat", "--image", image, "--no-ui")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    folder, calibration = data_home() / "characters" / "cat", data_home() / "calibration" / "cat.yaml"
    assert f"created {folder} and {calibration}" in result.output  # type: ignore[attr-defined]
    assert (folder / "reference.png").read_bytes() == image.read_bytes()
    assert list(elsewhere.iterdir()) == []
    found = CharacterLibrary().find("cat")
    assert found is not None and (found.image_path.parent, found.calibration_path) == (folder, calibration)

    (elsewhere / "characters").mkdir()  # a project folder: its characters/ wins
    assert _invoke("dog", "--image", image, "--no-ui").exit_code == 0  # type: ignore[attr-defined]
    assert (elsewhere / "characters" / "dog" / "reference.png").is_file()
    assert (elsewhere / "calibration" / "dog.yaml").is_file()
    # reopening a user character from the project folder still edits the user's file
    assert _invoke("cat", "--no-ui", "--scale", "0.7").exit_code == 0  # type: ignore[attr-defined]
    assert load_calibration(calibration).framing.scale == 0.7


def test_tuning_the_packaged_default_writes_a_user_copy_never_the_package(elsewhere: Path, image: Path) -> None:
    packaged = {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()}
    result = _invoke("default", "--no-ui", "--scale", "0.8")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    mine = data_home() / "calibration" / "default.yaml"
    assert f"updated {mine}" in result.output  # type: ignore[attr-defined]
    tuned = load_calibration(mine)
    assert tuned.framing.scale == 0.8
    assert tuned.shape == load_calibration(PACKAGED_HOME / "calibration" / "default.yaml").shape  # started from it
    assert {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()} == packaged
    (default,) = CharacterLibrary().discover()
    assert default.image_path.is_relative_to(PACKAGED_HOME) and default.calibration_path == mine

    refused = _invoke("default", "--image", image, "--no-ui")
    assert isinstance(refused.exception, RainError)  # type: ignore[attr-defined]
    assert "comes with rain-vtuber" in str(refused.exception) and "--force" in str(refused.exception)  # type: ignore[attr-defined]
    assert _invoke("default", "--image", image, "--no-ui", "--force").exit_code == 0  # type: ignore[attr-defined]
    (own,) = CharacterLibrary().discover()
    assert own.image_path == data_home() / "characters" / "default" / "reference.png"
    assert own.calibration_path == mine and mine.with_name("default.yaml.bak").is_file()
    assert {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()} == packaged
