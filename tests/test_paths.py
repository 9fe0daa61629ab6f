"""Per-user folders on Linux, macOS and Windows, each through platformdirs' own class for that OS.

platformdirs picks its class once, at import; the tests put the macOS or Windows class in its place
(and sys.platform with it), with HOME and the environment pointed at temporary folders. On Windows
platformdirs asks the shell through ctypes, which only exists there; its other real branch reads
the same folder from %LOCALAPPDATA%, and that is the one the Windows test runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import platformdirs.windows
import pytest
from platformdirs.macos import MacOS
from platformdirs.unix import Unix
from platformdirs.windows import Windows

from rain_vtuber import paths
from rain_vtuber.daemon.config import DaemonConfig


def _use_platform(monkeypatch: pytest.MonkeyPatch, platform: str, dirs: type) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(platformdirs, "PlatformDirs", dirs)


def _folders() -> dict[str, Path]:
    config = DaemonConfig()
    return {
        "cache": paths.cache_home(),
        "log_file": config.log_file,
        "state_file": config.state_path(),
        "characters": paths.character_folders().homes[1].characters,
        "calibration": paths.character_folders().homes[1].calibration,
    }


def _layout(cache: Path, logs: Path, state: Path, data: Path) -> dict[str, Path]:
    """What _folders() must say for these four per-user folders."""
    return {
        "cache": cache,
        "log_file": logs / "daemon.log",
        "state_file": state / "daemon-9050.json",
        "characters": data / "characters",
        "calibration": data / "calibration",
    }


def test_linux_keeps_its_folders(new_user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_platform(monkeypatch, "linux", Unix)
    state = new_user_home / ".local" / "state" / "rain-vtuber"
    assert _folders() == _layout(new_user_home / ".cache" / "rain-vtuber", state, state,
                                 new_user_home / ".local" / "share" / "rain-vtuber")


def test_xdg_variables_and_rain_vtuber_home_win(new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_platform(monkeypatch, "linux", Unix)
    xdg = tmp_path / "xdg"
    for var in ("CACHE", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{var}_HOME", str(xdg / var.lower()))
    state = xdg / "state" / "rain-vtuber"
    assert _folders() == _layout(xdg / "cache" / "rain-vtuber", state, state, xdg / "data" / "rain-vtuber")
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(tmp_path / "rain"))
    assert paths.cache_home() == tmp_path / "rain"  # the cache only: state and characters stay
    assert DaemonConfig().log_file == xdg / "state" / "rain-vtuber" / "daemon.log"


def test_macos_uses_the_library_folders(new_user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_platform(monkeypatch, "darwin", MacOS)
    library = new_user_home / "Library"
    support = library / "Application Support" / "rain-vtuber"
    assert _folders() == _layout(library / "Caches" / "rain-vtuber", library / "Logs" / "rain-vtuber", support, support)
    monkeypatch.setenv("XDG_CACHE_HOME", str(new_user_home / "xdg-cache"))  # honoured on macOS too
    assert paths.cache_home() == new_user_home / "xdg-cache" / "rain-vtuber"


def test_windows_uses_local_appdata(new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_platform(monkeypatch, "win32", Windows)
    monkeypatch.setattr(platformdirs.windows, "_RESOLVE_WIN_FOLDER", platformdirs.windows.get_win_folder_from_env_vars)
    local = tmp_path / "Users" / "ann" / "AppData" / "Local"
    monkeypatch.setenv("LOCALAPPDATA", str(local))
    monkeypatch.setenv("APPDATA", str(tmp_path / "Users" / "ann" / "AppData" / "Roaming"))  # not used: nothing roams
    app = local / "rain-vtuber"
    assert _folders() == _layout(app / "Cache", app / "Logs", app, app)


def test_doctor_lists_the_folders_in_use(new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_platform(monkeypatch, "linux", Unix)
    monkeypatch.chdir(tmp_path)
    rows = dict(paths.folders_in_use())
    assert rows["downloads and caches"] == str(new_user_home / ".cache" / "rain-vtuber")
    assert rows["daemon log"] == str(new_user_home / ".local" / "state" / "rain-vtuber" / "daemon.log")
    assert rows["characters (first match wins)"] == " > ".join(
        [str(tmp_path / "characters"), str(new_user_home / ".local" / "share" / "rain-vtuber" / "characters"),
         str(paths.PACKAGED_HOME / "characters")]
    )
    assert rows["new characters go to"] == str(new_user_home / ".local" / "share" / "rain-vtuber" / "characters")
    (tmp_path / "characters").mkdir()  # a project folder: new characters go there
    assert dict(paths.folders_in_use())["new characters go to"] == str(tmp_path / "characters")
