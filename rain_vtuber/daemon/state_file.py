"""What the daemon remembers across restarts: the active character and each character's recentred
neutral head position, so an OBS (and daemon) restart comes back where the show left off.

A small JSON file, written atomically; a missing or unreadable file means "nothing remembered".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from rain_vtuber.landmarks import Calibration
from rain_vtuber.utils.atomic import atomic_write

log = logging.getLogger(__name__)


@dataclass
class SavedState:
    """The remembered state; `neutral` maps a character to its recentred (neutral_x, neutral_y)."""

    character: str | None = None
    neutral: dict[str, tuple[float, float]] = field(default_factory=dict)

    def apply(self, name: str, calibration: Calibration) -> Calibration:
        """`calibration` with the remembered recenter of `name` (unchanged when there is none)."""
        if name not in self.neutral:
            return calibration
        x, y = self.neutral[name]
        framing = calibration.framing.model_copy(update={"neutral_x": x, "neutral_y": y})
        return calibration.model_copy(update={"framing": framing})


def load_state(path: Path) -> SavedState:
    """The state saved in `path`; an absent or unreadable file is logged and forgotten, never fatal."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        neutral = {str(k): (float(v[0]), float(v[1])) for k, v in data.get("neutral", {}).items()}
        return SavedState(data.get("character"), {k: v for k, v in neutral.items() if all(0 <= c <= 1 for c in v)})
    except FileNotFoundError:
        return SavedState()
    except (OSError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        log.warning("ignoring the daemon state file %s (%s); starting from the config", path, err)
        return SavedState()


def save_state(state: SavedState, path: Path) -> None:
    """Write atomically (temp file + rename): a crash or a full disk leaves the previous file whole."""
    text = json.dumps({"character": state.character, "neutral": state.neutral}, indent=1)
    try:
        atomic_write(path, text)
    except OSError as err:
        log.warning("cannot save the daemon state to %s: %s", path, err)
