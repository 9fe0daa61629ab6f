"""Where rain-vtuber keeps downloads and caches: $RAIN_VTUBER_HOME, else the user cache folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    env = os.environ.get("RAIN_VTUBER_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "rain-vtuber"
