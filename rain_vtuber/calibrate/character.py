"""Create or reopen a character on disk: characters/<name>/ and calibration/<name>.yaml.

Where those folders are is the daemon's lookup order (rain_vtuber.paths.character_folders), so
what calibrate writes is what the daemon reads; the package's own default character is never
written: its calibration is copied to the user's folder.

Creation stages everything in a temporary folder next to the target and moves it into place only
when it is complete, so a failure never leaves a half-written character behind. The user's image
is only read; the character gets its own copy.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, load_calibration, save_calibration
from rain_vtuber.landmarks.characters import CHARACTER_NAME, Character, character_at, load_picture
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.landmarks.picture import read_picture
from rain_vtuber.paths import PACKAGED_HOME, character_folders, is_packaged
from rain_vtuber.utils.atomic import atomic_write

MIN_SIDE = 64


@dataclass(frozen=True)
class CharacterFiles:
    """Where calibrate reads and writes one character (see `character_files`)."""

    name: str
    folder: Path
    """characters/<name>/: where the character is, or is created."""
    calibration: Path
    """The calibration file the daemon reads for it and calibrate writes (never inside the package)."""
    packaged: Character | None = None
    """The package's own character of this name (read-only): reopened, it gives the picture and the
    calibration to start from; a new character of this name hides it."""

    @property
    def neutral(self) -> Path:
        """The user's recorded neutral face (68 tracked points) the framing was fitted to."""
        return self.calibration.with_name(f"{self.name}.neutral.yaml")

    def exists(self) -> bool:
        return self.folder.exists() or self.calibration.exists() or self.packaged is not None


def character_files(root: Path | None, name: str) -> CharacterFiles:
    """Validated name -> its files: under root/characters and root/calibration when root is given,
    else where the daemon looks for it (./characters, the user's folder, the package; new ones go
    to ./characters when that folder exists, else to the user's). RainError for names the daemon
    could not load."""
    if not CHARACTER_NAME.match(name) or name in (".", ".."):
        raise RainError(f"invalid character name {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit")
    library = CharacterLibrary(character_folders(root / "characters", root / "calibration") if root else None)
    found = library.find(name)
    if found is not None and not is_packaged(found.image_path):
        return CharacterFiles(name, found.image_path.parent, found.calibration_path)
    new = library.folders.new
    packaged = character_at(PACKAGED_HOME / "characters" / name, PACKAGED_HOME / "calibration") if found else None
    return CharacterFiles(name, new.characters / name, library.calibration_path(name, new), packaged)


def read_image(path: Path) -> np.ndarray:
    """A picture file -> HxWx3 uint8 RGB as fusion takes it; RainError for a missing, unreadable or tiny file."""
    path = Path(path)
    if not path.is_file():
        raise RainError(f"image {path} not found; pass the character's picture with --image")
    rgb = read_picture(path)  # transparency over white, as a new character has no background yet
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise RainError(f"{path} is {rgb.shape[1]}x{rgb.shape[0]}; use an image at least {MIN_SIDE} pixels on each side")
    return rgb


def create_character(files: CharacterFiles, image: Path, calib: Calibration, force: bool = False) -> None:
    """Write characters/<name>/ (reference.png + character.yaml) and calibration/<name>.yaml.

    Refuses an existing character unless force. With force the old folder is replaced only once the
    new one is complete, the old calibration is kept as <name>.yaml.bak and the recorded neutral
    face is dropped (the framing starts over).
    """
    check_new(files, force)
    read_image(image)  # a clear error before anything is written
    parent = files.folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{files.name}.", suffix=".new", dir=parent))
    try:
        _write_folder(staged, files.name, Path(image))
        save_calibration(calib, files.calibration)
        _swap_in(staged, files.folder)
        files.neutral.unlink(missing_ok=True)  # fitted to the old character's framing
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def check_new(files: CharacterFiles, force: bool) -> None:
    """RainError if the character exists (also as the package's own) and force is off."""
    if files.exists() and not force:
        if files.packaged is not None:
            raise RainError(
                f"character '{files.name}' comes with rain-vtuber; add --force to make your own in {files.folder}, "
                "or leave out --image to adjust it"
            )
        raise RainError(
            f"character '{files.name}' already exists ({files.folder}, {files.calibration}); "
            "add --force to replace it, or leave out --image to adjust it"
        )


def open_character(files: CharacterFiles) -> tuple[np.ndarray, Calibration]:
    """An existing character's reference image and calibration (its own file, else the package's, else defaults)."""
    found = character_at(files.folder, files.calibration.parent) or files.packaged
    if found is None:
        raise RainError(
            f"character '{files.name}' not found under {files.folder.parent}; create it with --image REF.png"
        )
    start = files.calibration if files.calibration.exists() else found.calibration_path
    calib = load_calibration(start) if start.exists() else Calibration()
    return load_picture(found)[0], calib


def load_neutral(files: CharacterFiles) -> np.ndarray | None:
    """The recorded neutral face, None if never recorded or unreadable (the page then uses the default face)."""
    try:
        points = np.array(yaml.safe_load(files.neutral.read_text(encoding="utf-8"))["points"], dtype=np.float64)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None
    return points if points.shape == (68, 2) and np.isfinite(points).all() else None


def save_neutral(files: CharacterFiles, points: np.ndarray) -> None:
    """Keep the recorded neutral face beside the calibration, so reopening shows the same face box."""
    text = "# rain-vtuber calibrate: your neutral face (68 iBUG points, tracked-frame fractions)\n"
    text += yaml.safe_dump({"points": np.round(points, 6).tolist()}, default_flow_style=None)
    atomic_write(files.neutral, text)


def _write_folder(folder: Path, name: str, image: Path) -> None:
    """reference.png (a byte copy of a PNG, else a PNG conversion) and character.yaml."""
    target = folder / "reference.png"
    with Image.open(image) as img:
        if img.format == "PNG":
            shutil.copyfile(image, target)
        else:
            img.convert("RGB").save(target, format="PNG")
    meta = {"name": name, "description": f"created by rain-vtuber calibrate from {image.name}"}
    (folder / "character.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def _swap_in(staged: Path, folder: Path) -> None:
    """Move the complete staged folder to `folder`, replacing an old one only after the move worked."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    try:
        staged.rename(folder)
    except OSError:
        if old is not None:
            old.rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
