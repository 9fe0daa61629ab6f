"""`rain-vtuber calibrate` without --root writes where the daemon looks, and says where."""

from __future__ import annotations

from pathlib import Path

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import load_calibration
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.paths import PACKAGED_HOME, data_home
from tests.cli.calibrate_cli import image, invoke  # noqa: F401 (image: a fixture)


def test_new_characters_go_to_the_user_folder_unless_the_current_one_has_characters(elsewhere: Path, image: Path) -> None:
    result = invoke("cat", "--image", image, "--no-ui")
    assert result.exit_code == 0, result.output
    folder, calibration = data_home() / "characters" / "cat", data_home() / "calibration" / "cat.yaml"
    assert f"created {folder} and {calibration}" in result.output
    assert (folder / "reference.png").read_bytes() == image.read_bytes()
    assert list(elsewhere.iterdir()) == []
    found = CharacterLibrary().find("cat")
    assert found is not None and (found.image_path.parent, found.calibration_path) == (folder, calibration)

    (elsewhere / "characters").mkdir()  # a project folder: its characters/ wins
    assert invoke("dog", "--image", image, "--no-ui").exit_code == 0
    assert (elsewhere / "characters" / "dog" / "reference.png").is_file()
    assert (elsewhere / "calibration" / "dog.yaml").is_file()
    # reopening a user character from the project folder still edits the user's file
    assert invoke("cat", "--no-ui", "--scale", "0.7").exit_code == 0
    assert load_calibration(calibration).framing.scale == 0.7


def test_tuning_the_packaged_default_writes_a_user_copy_never_the_package(elsewhere: Path, image: Path) -> None:
    packaged = {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()}
    result = invoke("default", "--no-ui", "--scale", "0.8")
    assert result.exit_code == 0, result.output
    mine = data_home() / "calibration" / "default.yaml"
    assert f"updated {mine}" in result.output
    tuned = load_calibration(mine)
    assert tuned.framing.scale == 0.8
    assert tuned.shape == load_calibration(PACKAGED_HOME / "calibration" / "default.yaml").shape  # started from it
    assert {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()} == packaged
    (default,) = CharacterLibrary().discover()
    assert default.image_path.is_relative_to(PACKAGED_HOME) and default.calibration_path == mine

    refused = invoke("default", "--image", image, "--no-ui")
    assert isinstance(refused.exception, RainError)
    assert "comes with rain-vtuber" in str(refused.exception) and "--force" in str(refused.exception)
    assert invoke("default", "--image", image, "--no-ui", "--force").exit_code == 0
    (own,) = CharacterLibrary().discover()
    assert own.image_path == data_home() / "characters" / "default" / "reference.png"
    assert own.calibration_path == mine and mine.with_name("default.yaml.bak").is_file()
    assert {p: p.read_bytes() for p in PACKAGED_HOME.rglob("*") if p.is_file()} == packaged
