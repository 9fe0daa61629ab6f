"""Where the default character's eyes are drawn, and where a pose image puts the eye dots."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from rain_vtuber.landmarks.dots import COLORS

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "make_default_character.py"
SIZE = 512
EYE_GROUPS = (slice(16, 21), slice(21, 26))  # right eye (image left), left eye: 5 dots each


@cache
def drawn_eyes() -> np.ndarray:
    """(2, 2) pixel (x, y) centres of the eyes the generator draws (draw_eye centres on the dots' mean)."""
    spec = importlib.util.spec_from_file_location("make_default_character", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    dots = generator.dot_layout()
    assert generator.SIZE == SIZE
    return np.array([dots[group].mean(axis=0) for group in EYE_GROUPS])


def eye_dots(image: np.ndarray) -> np.ndarray:
    """(2, 2) pixel (x, y) centres of the right- and left-eye dot colours in a pose image."""
    centres = []
    for group in EYE_GROUPS:
        pixels = np.argwhere(np.all(image == COLORS[group.start], axis=2))
        assert len(pixels), f"no {COLORS[group.start]} eye dots in the image"
        centres.append(pixels[:, ::-1].mean(axis=0))
    return np.array(centres)
