"""Blend-shape vocabularies -> the 52 ARKit names, case-insensitively.

Senders name the same expressions differently: ARKit camelCase (Perfect Sync, FaceMotion3D),
iFacialMocap's `_L`/`_R` suffixes, VRM0 presets (A, Blink_L, Joy) and VRM1 presets (aa,
blinkLeft, happy). Everything downstream (rig, calibration) speaks ARKit only.

Some senders send one expression under several vocabularies in the same frame (an OpenSeeFace
VMC sender: `eyeBlinkLeft`, `Blink_L` and `Blink`, the mean of both eyes). Taking the largest
value would turn a wink into a half blink, so each ARKit shape takes its value from the most
precise kind of name that was sent for it (Precedence), and only names of that kind are combined:

1. ARKit names, in any spelling (`eyeBlinkLeft`, `EyeBlinkLeft`, `eyeBlink_L`);
2. VRM presets for one side of the face (`Blink_L`, `Blink_R`, `blinkLeft`, `blinkRight`);
3. VRM presets for both sides or the whole face (`Blink`, `A`/`aa`, `Joy`/`happy`, `LookUp`, ...).
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Iterable, Mapping

ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

Contribution = tuple[tuple[str, float], ...]


class Precedence(IntEnum):
    """Which name wins when several name the same ARKit shape (lower wins)."""

    ARKIT = 0
    VRM_ONE_SIDE = 1
    VRM_BOTH_SIDES = 2


Entry = tuple[Precedence, Contribution]


def _both(name: str, weight: float = 1.0) -> Contribution:
    return ((f"{name}Left", weight), (f"{name}Right", weight))


# VRM0 presets and their VRM1 equivalents, as weighted ARKit contributions (approximate visemes).
_VRM: dict[str, Contribution] = {
    "a": (("jawOpen", 0.9),),
    "i": (("jawOpen", 0.2),) + _both("mouthStretch", 0.8),
    "u": (("jawOpen", 0.15), ("mouthPucker", 0.9)),
    "e": (("jawOpen", 0.45),) + _both("mouthStretch", 0.5),
    "o": (("jawOpen", 0.6), ("mouthFunnel", 0.8)),
    "blink": _both("eyeBlink"),
    "blink_l": (("eyeBlinkLeft", 1.0),),
    "blink_r": (("eyeBlinkRight", 1.0),),
    "joy": _both("mouthSmile") + _both("cheekSquint", 0.7) + _both("eyeSquint", 0.6),
    "fun": _both("mouthSmile", 0.8),
    "angry": _both("browDown") + _both("mouthFrown", 0.5),
    "sorrow": (("browInnerUp", 1.0),) + _both("mouthFrown", 0.8),
    "surprised": (("browInnerUp", 1.0), ("jawOpen", 0.5)) + _both("browOuterUp") + _both("eyeWide"),
    "lookup": _both("eyeLookUp"),
    "lookdown": _both("eyeLookDown"),
    "lookleft": (("eyeLookOutLeft", 1.0), ("eyeLookInRight", 1.0)),
    "lookright": (("eyeLookInLeft", 1.0), ("eyeLookOutRight", 1.0)),
    "neutral": (),
}
_VRM1_ALIASES = {
    "aa": "a", "ih": "i", "ou": "u", "ee": "e", "oh": "o", "blinkleft": "blink_l", "blinkright": "blink_r",
    "happy": "joy", "relaxed": "fun", "sad": "sorrow",
}


def _key(name: str) -> str:
    """Case- and spelling-insensitive key: eyeBlink_L, EyeBlinkLeft and eyeblinkleft all agree."""
    lowered = name.strip().lower()
    if lowered.endswith("_l"):
        lowered = lowered[:-2] + "left"
    elif lowered.endswith("_r"):
        lowered = lowered[:-2] + "right"
    return lowered


def _vrm_precedence(contribution: Contribution) -> Precedence:
    """A preset that moves one side of the face only (Blink_L) is more precise than one for both (Blink)."""
    sides = {next((side for side in ("Left", "Right") if arkit.endswith(side)), "") for arkit, _ in contribution}
    return Precedence.VRM_ONE_SIDE if sides in ({"Left"}, {"Right"}) else Precedence.VRM_BOTH_SIDES


def _build_table() -> dict[str, Entry]:
    table: dict[str, Entry] = {_key(name): (Precedence.ARKIT, ((name, 1.0),)) for name in ARKIT_NAMES}
    for name, contribution in _VRM.items():
        table.setdefault(_key(name), (_vrm_precedence(contribution), contribution))
    for alias, target in _VRM1_ALIASES.items():
        table.setdefault(alias, table[_key(target)])
    return table


_TABLE = _build_table()


def is_known(name: str) -> bool:
    """True if `name` is an ARKit, iFacialMocap, VRM0 or VRM1 blend-shape name."""
    return _key(name) in _TABLE


def to_arkit(values: Mapping[str, float] | Iterable[tuple[str, float]]) -> dict[str, float]:
    """Raw sender values (any vocabulary, 0..1) -> ARKit name -> 0..1.

    Each ARKit shape comes from the names of the best Precedence that were sent for it (see the
    module docstring); several names of that same precedence combine by maximum. Unknown names
    and non-finite values are skipped; values are clamped to 0..1.
    """
    items = values.items() if isinstance(values, Mapping) else values
    best: dict[str, tuple[Precedence, float]] = {}
    for name, value in items:
        entry = _TABLE.get(_key(name))
        if entry is None or not math.isfinite(value):
            continue
        precedence, contribution = entry
        level = min(max(float(value), 0.0), 1.0)
        for arkit, weight in contribution:
            held = best.get(arkit)
            if held is None or precedence < held[0]:
                best[arkit] = (precedence, level * weight)
            elif precedence == held[0]:
                best[arkit] = (precedence, max(held[1], level * weight))
    return {arkit: value for arkit, (_, value) in best.items()}
