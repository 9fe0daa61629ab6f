"""The neutral face (what the character shows with no face in view) and the iBUG-68 mirror table."""

from __future__ import annotations

import numpy as np


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
