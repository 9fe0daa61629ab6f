"""The character lookup order: the current folder, then the user's data folder, then the package.

Every test runs as a user rain-vtuber never ran for (HOME in a temporary folder, no XDG variables)
from an empty current folder, so nothing comes from the checkout or the real home.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, load_calibration, save_calibration
from rain_vtuber.landmarks.calibration import Framing
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.paths import PACKAGED_HOME, character_folders, data_home

PACKAGED_PICTURE = PACKAGED_HOME / "characters" / "default" / "reference.png"
PACKAGED_CALIBRATION = PACKAGED_HOME / "calibration" / "default.yaml"


def _package_digest() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(PACKAGED_HOME.rglob("*")) if p.is_file())).hexdigest()


def _character(root: Path, name: str, colour: str) -> Path:
    folder = root / "characters" / name
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 64), colour).save(folder / "reference.png")
    return folder / "reference.png"


def _calibration(root: Path, name: str, scale: float) -> Path:
    path = root / "calibration" / f"{name}.yaml"
    save_calibration(Calibration(framing=Framing(scale=scale)), path)
    return path


def test_a_new_user_gets_the_packaged_default_and_its_own_calibration_copy(elsewhere: Path) -> None:
    before = _package_digest()
    found = CharacterLibrary().discover()
    assert [c.name for c in found] == ["default"]
    default = found[0]
    assert default.image_path == PACKAGED_PICTURE
    assert default.calibration_path == data_home() / "calibration" / "default.yaml"
    assert default.calibration_path.read_bytes() == PACKAGED_CALIBRATION.read_bytes()
    assert _package_digest() == before  # the package is only read
    assert list(elsewhere.iterdir()) == []  # nor is anything written into the current folder


def test_current_folder_wins_over_the_user_folder_which_wins_over_the_package(elsewhere: Path) -> None:
    user = data_home()
    here_alice = _character(elsewhere, "alice", "red")
    _character(user, "alice", "blue")
    user_default = _character(user, "default", "green")
    _character(user, "bob", "white")
    _calibration(user, "alice", 0.7)
    _calibration(elsewhere, "bob", 0.9)
    _calibration(user, "bob", 0.5)
    found = {c.name: c for c in CharacterLibrary().discover()}
    assert sorted(found) == ["alice", "bob", "default"]
    assert found["alice"].image_path == here_alice
    assert found["default"].image_path == user_default
    assert found["bob"].image_path == user / "characters" / "bob" / "reference.png"
    # a calibration is the first calibration/<name>.yaml of the same order, wherever its picture is
    assert found["alice"].calibration_path == user / "calibration" / "alice.yaml"
    assert load_calibration(found["bob"].calibration_path).framing.scale == 0.9
    # the user's own default has no calibration yet: it starts from the package's, next to the user's characters
    assert found["default"].calibration_path == user / "calibration" / "default.yaml"
    assert found["default"].calibration_path.read_bytes() == PACKAGED_CALIBRATION.read_bytes()


def test_a_character_of_the_current_folder_gets_its_calibration_there(elsewhere: Path) -> None:
    _character(elsewhere, "carol", "red")
    (carol,) = [c for c in CharacterLibrary().discover() if c.name == "carol"]
    assert carol.calibration_path == elsewhere / "calibration" / "carol.yaml"
    assert load_calibration(carol.calibration_path) == Calibration()


def test_the_config_folders_replace_the_search(elsewhere: Path, tmp_path: Path) -> None:
    chars, calib = tmp_path / "mine" / "characters", tmp_path / "mine" / "calibration"
    _character(tmp_path / "mine", "dora", "red")
    _character(elsewhere, "alice", "blue")
    _character(data_home(), "bob", "green")
    found = CharacterLibrary(character_folders(chars, calib)).discover()
    assert [c.name for c in found] == ["dora"]  # not the current folder's, the user's or the package's
    assert found[0].calibration_path == calib / "dora.yaml" and found[0].calibration_path.is_file()
    with pytest.raises(RainError, match="not found"):
        CharacterLibrary(character_folders(tmp_path / "nowhere", calib)).discover()
    # calibration_dir alone: every character's calibration is read and written there
    only_calibration = {c.name: c for c in CharacterLibrary(character_folders(None, calib)).discover()}
    assert sorted(only_calibration) == ["alice", "bob", "default"]
    assert {c.calibration_path.parent for c in only_calibration.values()} == {calib}
    # characters_dir alone: calibrations follow the usual search and new ones go to the user's folder
    _calibration(elsewhere, "dora", 0.6)
    (dora,) = CharacterLibrary(character_folders(chars, None)).discover()
    assert dora.calibration_path == elsewhere / "calibration" / "dora.yaml"


def test_a_calibration_that_cannot_be_written_reads_the_packaged_one(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    (default,) = CharacterLibrary().discover()
    assert default.calibration_path == PACKAGED_CALIBRATION


def test_reading_tools_find_the_default_calibration_in_the_same_order(elsewhere: Path) -> None:
    library = CharacterLibrary()
    assert library.saved_calibration("default") == PACKAGED_CALIBRATION
    assert library.saved_calibration("ghost") is None
    mine = _calibration(data_home(), "default", 0.8)
    assert library.saved_calibration("default") == mine
    here = _calibration(elsewhere, "default", 0.9)
    assert library.saved_calibration("default") == here
