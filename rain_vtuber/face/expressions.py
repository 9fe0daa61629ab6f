"""Expression normalisation of the 68 points, and the neutral face.

Every person's eyes and mouth open a different amount, and every tracker measures them a little
differently. The calibration stores the user's own range (closed .. open); this module rescales the
eyelids and inner lips so that the user's closed eyes close the character's eyes fully and the user's
open mouth opens the character's mouth fully, whatever the source.

Openness is measured in the eye's (mouth's) own frame: the mean lid (inner-lip) gap across the
corner-to-corner axis, divided by the corner-to-corner width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # face/ sits below landmarks/ in the data flow; only the type is needed
    from rain_vtuber.landmarks.calibration import ExpressionRanges

EYE_OPEN = 0.30
"""Eye openness rendered for a fully open eye (what the spec's default eye_height_ratio expects)."""
MOUTH_OPEN = 0.55
"""Inner-mouth openness rendered for a fully open mouth."""

# (left corner, right corner, ((upper, lower), ...)) in image left-to-right order.
_RIGHT_EYE = (36, 39, ((37, 41), (38, 40)))
_LEFT_EYE = (42, 45, ((43, 47), (44, 46)))
_INNER_MOUTH = (60, 64, ((61, 67), (62, 66), (63, 65)))


def _axes(points: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit vectors along a->b and across it (pointing down for a level face), and the width |b - a|."""
    d = points[b] - points[a]
    width = float(np.hypot(d[0], d[1]))
    along = d / width if width > 1e-9 else np.array([1.0, 0.0])
    return along, np.array([-along[1], along[0]]), width


def openness(points: np.ndarray, part: tuple[int, int, tuple[tuple[int, int], ...]]) -> float:
    """Mean upper/lower gap across the corner axis divided by the corner distance (0 = closed)."""
    a, b, pairs = part
    _, across, width = _axes(points, a, b)
    if width <= 1e-9:
        return 0.0
    upper, lower = (np.array(ix) for ix in zip(*pairs))
    gaps = (points[lower] - points[upper]) @ across
    return float(np.mean(np.abs(gaps)) / width)


def eye_openness(points: np.ndarray) -> tuple[float, float]:
    """(right eye, left eye) openness of (68, 2) points (the subject's right eye is on the image left)."""
    return openness(points, _RIGHT_EYE), openness(points, _LEFT_EYE)


def mouth_openness(points: np.ndarray) -> float:
    """Inner-lip openness of (68, 2) points."""
    return openness(points, _INNER_MOUTH)


def _set_openness(points: np.ndarray, part: tuple[int, int, tuple[tuple[int, int], ...]], target: float) -> None:
    """In place: give every upper/lower pair a gap of target * width, keeping each pair's midpoint."""
    a, b, pairs = part
    _, across, width = _axes(points, a, b)
    half = 0.5 * target * width * across
    for upper, lower in pairs:
        mid = 0.5 * (points[upper] + points[lower])
        points[upper] = mid - half
        points[lower] = mid + half


def transfer_openness(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(68, 2) -> copy whose eyes and inner lips open as much as `template`'s (e.g. the posed rig)."""
    out = np.array(points, dtype=np.float64, copy=True)
    for part in (_RIGHT_EYE, _LEFT_EYE, _INNER_MOUTH):
        _set_openness(out, part, openness(template, part))
    return out


def _level(value: float, closed: float, opened: float) -> float:
    """0 at or below `closed`, 1 at or above `opened`, linear between."""
    return float(np.clip((value - closed) / (opened - closed), 0.0, 1.0))


def normalise_expressions(points: np.ndarray, ranges: ExpressionRanges) -> np.ndarray:
    """(68, 2) -> copy with eyes and inner lips rescaled from the user's range to the render range."""
    out = np.array(points, dtype=np.float64, copy=True)
    if not ranges.enabled:
        return out
    for eye in (_RIGHT_EYE, _LEFT_EYE):
        level = _level(openness(points, eye), ranges.eye_closed, ranges.eye_open)
        _set_openness(out, eye, level * EYE_OPEN)
    level = _level(mouth_openness(points), ranges.mouth_closed, ranges.mouth_open)
    _set_openness(out, _INNER_MOUTH, level * MOUTH_OPEN)
    return out


def _mirror_table() -> np.ndarray:
    """iBUG-68 index of each point's left/right counterpart (itself on the centre line)."""
    pairs = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    table = np.arange(68)
    for a, b in pairs:
        table[a], table[b] = b, a
    table.setflags(write=False)
    return table


IBUG68_MIRROR = _mirror_table()
"""points[IBUG68_MIRROR] with x -> 1 - x is the same face seen in a mirror."""


def _neutral_face() -> np.ndarray:
    """A front-facing, level, relaxed face (eyes open, mouth closed) centred in the tracked frame.

    Drawn by the project: jaw on a half ellipse, arched brows, straight nose, almond eyes.
    Its face height |p27 - p8| is 0.31, so it renders with the spec's usual radius of 3.
    """
    p = np.zeros((68, 2))
    t = np.linspace(0.0, np.pi, 17)
    p[0:17] = np.stack([0.5 - 0.245 * np.cos(t), 0.44 + 0.26 * np.sin(t)], axis=1)
    k = np.arange(5)
    p[17:22] = np.stack([0.31 + 0.0375 * k, 0.352 - 0.02 * np.sin(np.pi * k / 4)], axis=1)
    p[27:31] = np.stack([np.full(4, 0.5), [0.39, 0.43, 0.47, 0.51]], axis=1)
    p[31:36] = [[0.455, 0.545], [0.477, 0.552], [0.5, 0.556], [0.523, 0.552], [0.545, 0.545]]
    p[36:42] = [[0.355, 0.42], [0.382, 0.408], [0.408, 0.408], [0.435, 0.42], [0.408, 0.432], [0.382, 0.432]]
    p[48:52] = [[0.44, 0.615], [0.462, 0.603], [0.485, 0.597], [0.5, 0.6]]
    p[55:58] = [[0.538, 0.632], [0.515, 0.64], [0.5, 0.642]]
    p[60:63] = [[0.45, 0.616], [0.478, 0.616], [0.5, 0.616]]
    p[65:68] = [[0.522, 0.616], [0.5, 0.616], [0.478, 0.616]]
    # Mirror the image-left half onto the image right.
    right = IBUG68_MIRROR > np.arange(68)
    p[IBUG68_MIRROR[right]] = p[right] * [-1.0, 1.0] + [1.0, 0.0]
    p.setflags(write=False)
    return p


NEUTRAL_FACE = _neutral_face()
"""(68, 2) float64, read-only: what the character shows with no face in view."""
