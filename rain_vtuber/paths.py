"""Every folder rain-vtuber uses outside the current one, decided here and nowhere else.

The per-user folders are the platform's own, from platformdirs (looked up on every call, so a
changed environment is followed):

- Linux: ~/.cache/rain-vtuber, ~/.local/state/rain-vtuber (state and the daemon log),
  ~/.local/share/rain-vtuber ($XDG_CACHE_HOME, $XDG_STATE_HOME, $XDG_DATA_HOME win);
- macOS: ~/Library/Caches/rain-vtuber, ~/Library/Application Support/rain-vtuber (state and
  user data), ~/Library/Logs/rain-vtuber (the XDG variables win here too);
- Windows: %LOCALAPPDATA%\\rain-vtuber\\Cache, %LOCALAPPDATA%\\rain-vtuber, ...\\Logs.

$RAIN_VTUBER_HOME replaces the cache folder (weights, fused states, compiled kernels) everywhere.
Characters are looked up in ./characters, then the user's data folder, then the package's own
default character (see `character_folders`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from platformdirs.api import PlatformDirsABC
from platformdirs.unix import Unix

APP_NAME = "rain-vtuber"
PACKAGED_HOME = Path(__file__).resolve().parent / "packaged"
"""The package's own characters/ and calibration/ (read-only: site-packages in an installed package)."""


def _platform() -> PlatformDirsABC:
    """platformdirs' folders for this OS (no vendor folder on Windows: %LOCALAPPDATA%\\rain-vtuber)."""
    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def cache_home() -> Path:
    """Downloads and caches (weights, fused reference states, compiled kernels): $RAIN_VTUBER_HOME or the user cache."""
    env = os.environ.get("RAIN_VTUBER_HOME")
    return Path(env) if env else Path(_platform().user_cache_dir)


def state_home() -> Path:
    """What the daemon remembers across restarts (daemon-<port>.json)."""
    return Path(_platform().user_state_dir)


def log_home() -> Path:
    """The daemon's rotating log. Linux keeps it beside the state, where it always was."""
    dirs = _platform()
    return Path(dirs.user_state_dir if isinstance(dirs, Unix) else dirs.user_log_dir)


def data_home() -> Path:
    """The user's own characters/ and calibration/, found from any folder."""
    return Path(_platform().user_data_dir)


def default_log_file() -> Path:
    return log_home() / "daemon.log"


def default_state_file(control_port: int) -> Path:
    """One state file per control port, so two daemons on one PC keep their own."""
    return state_home() / f"daemon-{control_port}.json"


@dataclass(frozen=True)
class CharacterHome:
    """A folder of characters (<name>/reference.png) and where their calibrations are written."""

    characters: Path
    calibration: Path
    """Never inside the package: a packaged character's calibration goes where new characters' go."""


@dataclass(frozen=True)
class CharacterFolders:
    """The lookup order for characters and calibrations (first match wins) and where new ones go."""

    homes: tuple[CharacterHome, ...]
    calibrations: tuple[Path, ...]
    """Folders searched for <name>.yaml, the package's last (it is copied before it is written)."""
    new: CharacterHome
    """Where `rain-vtuber calibrate NAME --image` creates a character."""


def character_folders(characters_dir: Path | None = None, calibration_dir: Path | None = None) -> CharacterFolders:
    """./characters + ./calibration where they exist, then the user's data folder, then the package.

    characters_dir / calibration_dir (the daemon config keys, `calibrate --root`) replace their
    search with that one folder, which is also where new files go.
    """
    here, user = Path.cwd(), data_home()
    if characters_dir is not None:
        new = CharacterHome(Path(characters_dir), Path(calibration_dir or user / "calibration"))
        homes: tuple[CharacterHome, ...] = (new,)
    else:
        local = CharacterHome(here / "characters", Path(calibration_dir or here / "calibration"))
        own = CharacterHome(user / "characters", Path(calibration_dir or user / "calibration"))
        new = local if local.characters.is_dir() else own
        homes = (local, own, CharacterHome(PACKAGED_HOME / "characters", new.calibration))
    if calibration_dir is not None:
        calibrations: tuple[Path, ...] = (Path(calibration_dir),)
    else:
        calibrations = (here / "calibration", user / "calibration", PACKAGED_HOME / "calibration")
    return CharacterFolders(homes, calibrations, new)


def is_packaged(path: Path) -> bool:
    """Whether `path` is one of the package's own (read-only) files."""
    return Path(path).resolve().is_relative_to(PACKAGED_HOME)


def folders_in_use() -> list[tuple[str, str]]:
    """(what, where) for `rain-vtuber doctor`: the per-user folders and the character lookup order."""
    folders = character_folders()
    return [
        ("downloads and caches", str(cache_home())),
        ("daemon log", str(default_log_file())),
        ("daemon state", str(state_home() / "daemon-<control port>.json")),
        ("characters (first match wins)", " > ".join(str(h.characters) for h in folders.homes)),
        ("calibrations (first match wins)", " > ".join(map(str, folders.calibrations))),
        ("new characters go to", str(folders.new.characters)),
    ]
