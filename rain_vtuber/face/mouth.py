"""Mouth: a mouth shape from sound (or any driver that is not a tracked face), in the rig's vocabulary.

The audio analysis measures how far the mouth is open and which vowel shapes it; the face layer
turns that into ARKit blend shapes, so the 26 dots move through the same face rig as a tracked mouth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MouthMode = Literal["off", "when_lost", "blend", "always"]
"""How an audio mouth meets the tracked one (the audio settings choose; face/driver.py applies it):
off: never; when_lost: only while tracking is lost or the source sends no mouth shapes;
blend: the larger of the two, shape by shape; always: the audio mouth replaces the tracked one."""


@dataclass(frozen=True)
class Mouth:
    """open: jaw 0 (shut) .. 1 (wide open); wide: i/e spread 0..1; round: o/u rounding 0..1."""

    open: float
    wide: float = 0.0
    round: float = 0.0

    def blend_shapes(self) -> dict[str, float]:
        """ARKit blend shapes 0..1 for this mouth (the mouth shapes only).

        Through the rig, open 1 opens the inner lips about 0.67 of their width; a full round "o"
        narrows the mouth to about 70% and opens it about as tall as wide. Lips are never pressed
        (mouthClose 0), so a speaking mouth opens even where the tracker read pressed lips.
        """
        spread = self.wide * self.open
        rounding = self.round * self.open
        return {
            "jawOpen": self.open,
            "mouthClose": 0.0,
            "mouthStretchLeft": spread,
            "mouthStretchRight": spread,
            "mouthFunnel": 0.3 * rounding,
            "mouthPucker": 0.6 * rounding,
        }


MOUTH_SHAPES = frozenset(Mouth(0.0).blend_shapes())
"""The blend shapes a Mouth sets (what an audio-driven mouth replaces or blends with)."""
