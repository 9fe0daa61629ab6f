"""Characters across the lookup folders: which exist, and the calibration file each one uses.

The folders and their order come from `rain_vtuber.paths.character_folders`: a name is the first
characters/<name>/ of the search, its calibration the first calibration/<name>.yaml. A character
whose calibration exists only in the package, or nowhere, gets its own copy where it can be
written (never into the package), so the daemon reloads and `rain-vtuber calibrate` edits one file.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks.calibration import Calibration, save_calibration
from rain_vtuber.landmarks.characters import CHARACTER_NAME, IMAGE_NAMES, Character, character_at
from rain_vtuber.paths import CharacterFolders, CharacterHome, character_folders, is_packaged
from rain_vtuber.utils.atomic import atomic_write

log = logging.getLogger(__name__)


class CharacterLibrary:
    """Looks characters up in `folders` (default: the current folder, the user's, the package's)."""

    def __init__(self, folders: CharacterFolders | None = None) -> None:
        self.folders = folders or character_folders()

    def describe(self) -> str:
        """The character folders searched, for messages."""
        return ", ".join(str(home.characters) for home in self.folders.homes)

    def saved_calibration(self, name: str) -> Path | None:
        """The calibration file to read for `name`: the first of the search (the package's included), or None."""
        return next((p for p in (d / f"{name}.yaml" for d in self.folders.calibrations) if p.is_file()), None)

    def calibration_path(self, name: str, home: CharacterHome) -> Path:
        """The calibration `name` uses and is written to: the first of the search outside the package, else in `home`."""
        saved = self.saved_calibration(name)
        return saved if saved is not None and not is_packaged(saved) else home.calibration / f"{name}.yaml"

    def find(self, name: str) -> Character | None:
        """The first character called `name` in the search (its calibration may not be written yet)."""
        for home in self.folders.homes:
            found = character_at(home.characters / name, home.calibration)
            if found is not None:
                return dataclasses.replace(found, calibration_path=self.calibration_path(name, home))
        return None

    def discover(self) -> list[Character]:
        """Every character of the search, sorted by name, each with a calibration file on disk.

        A character without one gets a copy of the package's calibration of that name, else the
        defaults, so it works at once and its file is there to tune.
        """
        homes = [home for home in self.folders.homes if home.characters.is_dir()]
        if not homes:
            raise RainError(f"characters folder {self.describe()} not found; create it or pass --characters-dir")
        found: dict[str, Character] = {}
        for home in homes:
            for folder in sorted(p for p in home.characters.iterdir() if p.is_dir()):
                if folder.name in found:
                    continue  # an earlier folder of the search has this name
                character = character_at(folder, home.calibration)
                if character is None or not CHARACTER_NAME.match(folder.name):
                    log.warning("skipping %s: needs a simple name and one of %s", folder, ", ".join(IMAGE_NAMES))
                    continue
                path = self.calibration_path(folder.name, home)
                found[folder.name] = self._with_calibration(dataclasses.replace(character, calibration_path=path))
        return [found[name] for name in sorted(found)]

    def _with_calibration(self, character: Character) -> Character:
        """Write the character's missing calibration; if that fails, read the package's (or fail on load)."""
        path = character.calibration_path
        if path.exists():
            return character
        template = self.saved_calibration(character.name)  # the package's: a writable one would be `path`
        try:
            if template is not None:
                atomic_write(path, template.read_bytes())
            else:
                save_calibration(Calibration(), path)
            log.info("wrote calibration %s; tune it with `rain-vtuber calibrate %s`", path, character.name)
        except OSError as err:
            log.warning("cannot write calibration %s: %s", path, err)
            return dataclasses.replace(character, calibration_path=template) if template is not None else character
        return character
