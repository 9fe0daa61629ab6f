"""Eye and mouth openness of the 68 points: measuring it, setting it, and normalising it per user.

Every person's eyes and mouth open a different amount, and every tracker measures them a little
differently. The calibration stores the user's own range (closed .. open, `OpennessRanges`); this
module rescales the eyelids and inner lips so that the user's closed eyes close the character's eyes
fully and the user's open mouth opens the character's mouth fully, whatever the source.

Openness is measured in the eye's (mouth's) own frame: the mean lid (inner-lip) gap across the
corner-to-corner axis, divided by the corner-to-corner width.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, model_validator

from rain_vtuber.face.easing import smoothstep
from rain_vtuber.utils.strict import StrictModel

EYE_OPEN = 0.30
"""Eye openness rendered for a fully open eye (what the spec's default eye_height_ratio expects)."""
MOUTH_OPEN = 0.55
"""Inner-mouth openness rendered for a fully open mouth."""

Part = tuple[int, int, tuple[tuple[int, int], ...]]
"""(left corner, right corner, ((upper, lower), ...)) in image left-to-right order."""
RIGHT_EYE: Part = (36, 39, ((37, 41), (38, 40)))
LEFT_EYE: Part = (42, 45, ((43, 47), (44, 46)))
INNER_MOUTH: Part = (60, 64, ((61, 67), (62, 66), (63, 65)))
PARTS = (RIGHT_EYE, LEFT_EYE, INNER_MOUTH)
_RATIO_FROM = 0.05
"""shift_openness: parts opener than this scale with the rig; closer ones open by its difference."""


class OpennessRanges(StrictModel):
    """The calibration's `expressions:` section: the user's own eye and mouth openness range.

    Openness at or below *_closed renders fully closed, at or above *_open fully open.
    """

    enabled: bool = True
    eye_closed: float = Field(0.10, ge=0.0, le=1.0)
    eye_open: float = Field(0.28, ge=0.0, le=1.0)
    mouth_closed: float = Field(0.03, ge=0.0, le=2.0)
    mouth_open: float = Field(0.45, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _open_above_closed(self) -> "OpennessRanges":
        for part in ("eye", "mouth"):
            closed, opened = getattr(self, f"{part}_closed"), getattr(self, f"{part}_open")
            if opened <= closed + 0.01:
                raise ValueError(
                    f"{part}_open ({opened}) must be above {part}_closed ({closed}) by at least 0.01"
                )
        return self


def _axes(points: np.ndarray, a: int, b: int) -> tuple[float, float, float]:
    """(across x, across y, width): the unit vector across the corner axis a->b (pointing down for a
    level face) and the corner distance |b - a|. Plain floats: this runs a dozen times per re-pose."""
    dx, dy = float(points[b, 0] - points[a, 0]), float(points[b, 1] - points[a, 1])
    width = math.hypot(dx, dy)
    if width <= 1e-9:
        return 0.0, 1.0, width
    return -dy / width, dx / width, width


def _gaps(points: np.ndarray, part: Part) -> tuple[list[float], float, float, float]:
    """Signed upper-to-lower gap of each pair across the corner axis, the across vector and the width."""
    a, b, pairs = part
    cx, cy, width = _axes(points, a, b)
    gaps = [float(points[lo, 0] - points[up, 0]) * cx + float(points[lo, 1] - points[up, 1]) * cy for up, lo in pairs]
    return gaps, cx, cy, width


def openness(points: np.ndarray, part: Part) -> float:
    """Mean upper/lower gap across the corner axis divided by the corner distance (0 = closed)."""
    gaps, _, _, width = _gaps(points, part)
    return 0.0 if width <= 1e-9 else sum(abs(g) for g in gaps) / len(gaps) / width


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """(right eye, left eye) openness of (68, 2) points (the subject's right eye is on the image left)."""
    return openness(points, RIGHT_EYE), openness(points, LEFT_EYE)


def mouth_openness(points: np.ndarray) -> float:
    """Inner-lip openness of (68, 2) points."""
    return openness(points, INNER_MOUTH)


def _set_openness(points: np.ndarray, part: Part, target: float) -> None:
    """In place: give every upper/lower pair a gap of target * width, keeping each pair's midpoint."""
    a, b, pairs = part
    cx, cy, width = _axes(points, a, b)
    half = 0.5 * target * width * np.array([cx, cy])
    for upper, lower in pairs:
        mid = 0.5 * (points[upper] + points[lower])
        points[upper] = mid - half
        points[lower] = mid + half


def transfer_openness(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(68, 2) -> copy whose eyes and inner lips open as much as `template`'s (e.g. the posed rig)."""
    out = np.array(points, dtype=np.float64, copy=True)
    for part in PARTS:
        _set_openness(out, part, openness(template, part))
    return out


def shift_openness(points: np.ndarray, start: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(68, 2) -> copy whose eyes and inner lips open as `start`'s would if they changed like the rig's
    from `before` to `after` (never below closed). Parts that open alike in before and after are left as they are.

    Re-posing a face through the rig: `points` is the face moved by the rig's change, `start` the face
    before it, `before`/`after` the rig in the old and new pose. An open part scales by after / before
    (a rig that closes closes the face exactly, and a face that opens wider than the rig, a tracker's
    frontal lids on a turned head, keeps its proportion); a nearly closed one opens by the rig's
    difference. Every lid pair's gap changes alike, so a rig face keeps its exact shape.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    for part in PARTS:
        opened, was = openness(after, part), openness(before, part)
        if opened != was:
            own = openness(start, part)
            ratio = min(max(own / was, 0.5), 2.0) if was > 0.0 else 1.0
            gain = 1.0 + (ratio - 1.0) * smoothstep(was / _RATIO_FROM)
            _open_by(out, part, max(own + (opened - was) * gain, 0.0) - _signed_openness(out, part))
    return out


def _signed_openness(points: np.ndarray, part: Part) -> float:
    """openness(), but crossed lids (the upper below the lower) count negative."""
    gaps, _, _, width = _gaps(points, part)
    return 0.0 if width <= 1e-9 else sum(gaps) / len(gaps) / width


def _open_by(points: np.ndarray, part: Part, amount: float) -> None:
    """In place: widen every upper/lower gap by amount * width, moving both lids across the eye (mouth)
    axis alike; a gap that would close past 0 stops at 0."""
    gaps, cx, cy, width = _gaps(points, part)
    for (upper, lower), gap in zip(part[2], gaps):
        half = 0.5 * (max(gap + amount * width, 0.0) - gap)
        points[upper, 0] -= half * cx
        points[upper, 1] -= half * cy
        points[lower, 0] += half * cx
        points[lower, 1] += half * cy


def _level(value: float, closed: float, opened: float) -> float:
    """0 at or below `closed`, 1 at or above `opened`, linear between."""
    return float(np.clip((value - closed) / (opened - closed), 0.0, 1.0))


def normalise_openness(points: np.ndarray, ranges: OpennessRanges) -> np.ndarray:
    """(68, 2) -> copy with eyes and inner lips rescaled from the user's range to the render range."""
    out = np.array(points, dtype=np.float64, copy=True)
    if not ranges.enabled:
        return out
    for eye in (RIGHT_EYE, LEFT_EYE):
        level = _level(openness(points, eye), ranges.eye_closed, ranges.eye_open)
        _set_openness(out, eye, level * EYE_OPEN)
    level = _level(mouth_openness(points), ranges.mouth_closed, ranges.mouth_open)
    _set_openness(out, INNER_MOUTH, level * MOUTH_OPEN)
    return out
