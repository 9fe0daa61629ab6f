"""Where a face is and how big: the centre and spread of its brows, nose and eyes, and moving a face there.

Expressions move the jaw and lips most, so a face's place is measured on the rest; auto-fit, the
rig-to-face fit of re-posing and idle life all agree on it.
"""

from __future__ import annotations

import numpy as np

RIGID = slice(17, 48)
"""iBUG-68 brows, nose and eyes: the points a face's place and size are measured on."""


def measure(points: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
    """(centre, size) of the rigid points: their mean and RMS distance from it; None if any is missing."""
    rigid = np.asarray(points, dtype=np.float64)[RIGID]
    if valid is not None and not np.asarray(valid, dtype=bool)[RIGID].all():
        return None
    if not np.isfinite(rigid).all():
        return None
    centre = rigid.mean(axis=0)
    size = float(np.sqrt(((rigid - centre) ** 2).sum(axis=1).mean()))
    return centre, size


def place(points: np.ndarray, centre: np.ndarray, size: float) -> np.ndarray:
    """(68, 2) -> copy moved and scaled so that measure() gives (centre, size); ValueError if it cannot be measured."""
    measured = measure(points)
    if measured is None or measured[1] <= 0.0:
        raise ValueError("cannot place a face without finite brows, nose and eyes")
    own_centre, own_size = measured
    return (np.asarray(points, dtype=np.float64) - own_centre) * (size / own_size) + np.asarray(centre)


def separation(a: np.ndarray, b: np.ndarray) -> float:
    """How far face a is from face b, in b's face sizes: centre distance plus size change (log ratio).

    0 when either cannot be measured.
    """
    ma, mb = measure(a), measure(b)
    if ma is None or mb is None or ma[1] <= 0.0 or mb[1] <= 0.0:
        return 0.0
    return float(np.linalg.norm(ma[0] - mb[0]) / mb[1] + abs(np.log(ma[1] / mb[1])))
