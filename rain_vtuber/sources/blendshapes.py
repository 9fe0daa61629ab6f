"""Blend-shape vocabularies -> the 52 ARKit names, case-insensitively.

Senders name the same expressions differently: ARKit camelCase (Perfect Sync, FaceMotion3D),
iFacialMocap's `_L`/`_R` suffixes, VRM0 presets (A, Blink_L, Joy) and VRM1 presets (aa,
blinkLeft, happy). Everything downstream (rig, calibration) speaks ARKit only.
"""

from __future__ import annotations

import math
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


def _build_table() -> dict[str, Contribution]:
    table: dict[str, Contribution] = {_key(name): ((name, 1.0),) for name in ARKIT_NAMES}
    for name, contribution in _VRM.items():
        table.setdefault(_key(name), contribution)
    for alias, target in _VRM1_ALIASES.items():
        table.setdefault(alias, _VRM[target])
    return table


_TABLE = _build_table()


def is_known(name: str) -> bool:
    """True if `name` is an ARKit, iFacialMocap, VRM0 or VRM1 blend-shape name."""
    return _key(name) in _TABLE


def to_arkit(values: Mapping[str, float] | Iterable[tuple[str, float]]) -> dict[str, float]:
    """Raw sender values (any vocabulary, 0..1) -> ARKit name -> 0..1 (max where several contribute).

    Unknown names and non-finite values are skipped; values are clamped to 0..1.
    """
    items = values.items() if isinstance(values, Mapping) else values
    out: dict[str, float] = {}
    for name, value in items:
        contribution = _TABLE.get(_key(name))
        if contribution is None or not math.isfinite(value):
            continue
        level = min(max(float(value), 0.0), 1.0)
        for arkit, weight in contribution:
            out[arkit] = max(out.get(arkit, 0.0), level * weight)
    return out
