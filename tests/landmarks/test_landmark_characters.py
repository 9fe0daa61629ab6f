"""Character discovery and the project's own default character."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, PoseRenderer, load_calibration
from rain_vtuber.landmarks.characters import load_character_meta
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.paths import PACKAGED_HOME, character_folders

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILES = ("characters/default/reference.png", "characters/default/character.yaml", "calibration/default.yaml")


def discover_in(characters_dir: Path, calibration_dir: Path) -> list:
    """Discovery in exactly these two folders (the daemon config's characters_dir / calibration_dir)."""
    return CharacterLibrary(character_folders(characters_dir, calibration_dir)).discover()


@pytest.mark.parametrize("name", DEFAULT_FILES)
def test_packaged_default_is_the_repository_default(name: str) -> None:
    """One character, two places: the checkout's example folders and the package data (same bytes).

    If you changed the repository's copy on purpose (scripts/make_default_character.py writes both),
    copy it to rain_vtuber/packaged/ too.
    """
    assert (PACKAGED_HOME / name).read_bytes() == (REPO / name).read_bytes(), f"rain_vtuber/packaged/{name} differs"


def test_default_character_ships_with_metadata_and_calibration() -> None:
    characters = {c.name: c for c in discover_in(REPO / "characters", REPO / "calibration")}
    default = characters["default"]
    assert default.image_path == REPO / "characters" / "default" / "reference.png"
    assert default.image_path.stat().st_size < 300_000
    with Image.open(default.image_path) as img:
        assert img.size == (512, 512) and img.mode == "RGB"
    meta = load_character_meta(default)
    assert meta.author == "rain-vtuber project" and "Apache-2.0" in meta.license
    load_calibration(default.calibration_path)


def test_default_character_face_sits_under_the_neutral_pose() -> None:
    """Each eye dot of the neutral pose lands on the drawn eye (dark iris/lash, not skin or hair)."""
    default = next(c for c in discover_in(REPO / "characters", REPO / "calibration") if c.name == "default")
    image = np.asarray(Image.open(default.image_path).convert("RGB")).astype(int)
    pose = PoseRenderer(load_calibration(default.calibration_path), 512, 512).render(None)
    eye_mask = np.all(pose == (255, 128, 128), axis=2) | np.all(pose == (128, 128, 255), axis=2)
    ys, xs = np.nonzero(eye_mask)
    under = image[ys, xs]
    skin = np.array([253, 228, 214])
    assert np.mean(np.abs(under - skin).sum(axis=1) > 60) > 0.6  # mostly eye colours, not bare skin


def test_discovery_writes_default_calibration_and_skips_folders_without_image(tmp_path: Path) -> None:
    chars, calib_dir = tmp_path / "characters", tmp_path / "calibration"
    (chars / "alice").mkdir(parents=True)
    Image.new("RGB", (64, 64), "white").save(chars / "alice" / "reference.png")
    (chars / "empty").mkdir()
    (chars / "alice" / "character.yaml").write_text("name: Alice\nlicense: CC-BY-4.0\n", encoding="utf-8")
    found = discover_in(chars, calib_dir)
    assert [c.name for c in found] == ["alice"]
    assert load_calibration(found[0].calibration_path) == Calibration()
    assert load_character_meta(found[0]).license == "CC-BY-4.0"
    (chars / "alice" / "character.yaml").write_text("name: Alice\nlicence: typo\n", encoding="utf-8")
    with pytest.raises(RainError, match="licence"):
        load_character_meta(discover_in(chars, calib_dir)[0])
    with pytest.raises(RainError, match="not found"):
        discover_in(tmp_path / "nowhere", calib_dir)
