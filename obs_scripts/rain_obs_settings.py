"""What the user set in the OBS script's properties, and the daemon command line it makes.

The daemon runs on this PC (the script starts, restarts and stops it) or on another PC (the `host`
setting: the script only controls it, never starts or stops it). Standard library only.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from rain_obs_client import LOCAL_HOST

DEFAULT_PORT = 9050


@dataclass(frozen=True)
class ScriptSettings:
    """What the user set in the script's properties."""

    executable: str = ""
    config: str = ""
    extra_args: str = ""
    port: int = DEFAULT_PORT
    token: str = ""
    autostart: bool = True
    host: str = ""  # empty or 127.0.0.1: the daemon on this PC, started by the script; else another PC's


def is_remote(settings: ScriptSettings) -> bool:
    """True when the daemon runs on another PC: the script controls it but never starts or stops it."""
    return settings.host.strip() not in ("", LOCAL_HOST, "localhost")


def daemon_host(settings: ScriptSettings) -> str:
    """Where the daemon runs: the Daemon PC as typed, or 127.0.0.1 for this PC."""
    return settings.host.strip() if is_remote(settings) else LOCAL_HOST


def _is_python(path: str) -> bool:
    name = Path(path).name.lower()
    return name.startswith("python") or name.startswith("pypy")


def daemon_command(settings: ScriptSettings, which: Callable[[str], Optional[str]]) -> List[str]:
    """Settings -> argv: a Python runs the module, anything else is the `rain-vtuber` executable.

    `which` finds `rain-vtuber` on PATH when no executable is set (shutil.which).
    """
    exe = settings.executable.strip() or which("rain-vtuber") or ""
    if not exe:
        raise ValueError("set the Python or rain-vtuber executable (rain-vtuber is not on PATH)")
    argv = [exe, "-m", "rain_vtuber.cli.main"] if _is_python(exe) else [exe]
    argv += ["daemon", "--control-port", str(settings.port)]
    if settings.config.strip():
        argv += ["--config", settings.config.strip()]
    if settings.token:
        argv += ["--token", settings.token]  # the daemon then expects exactly what the script sends
    return argv + split_args(settings.extra_args, windows=os.name == "nt")


def split_args(text: str, windows: bool) -> List[str]:
    """Extra arguments as typed -> argv; on Windows backslashes stay (paths) and quotes group words."""
    if not windows:
        return shlex.split(text)
    return [t[1:-1] if len(t) > 1 and t[0] == t[-1] == '"' else t for t in shlex.split(text, posix=False)]


def daemon_workdir(settings: ScriptSettings) -> str:
    """The daemon's working folder: the config's folder, else home (never OBS's own folder).

    The daemon's default characters/ and calibration/ folders are relative to it.
    """
    config = settings.config.strip()
    return str(Path(config).expanduser().parent) if config else str(Path.home())
