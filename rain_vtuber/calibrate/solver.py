"""Fit framing and character parameters so a neutral face lands on the character's face.

The streamer marks the character's face in the reference image (a box from brows to chin and cheek
to cheek, plus eye, nose and mouth anchors). Their neutral face, pushed through the calibration
(framing + the 13 transforms), must land there. The map from parameters to dots is nonlinear (the
transforms rotate and measure lengths), so we fit it with a small bounded Levenberg-Marquardt on a
numeric Jacobian: a dozen residuals and about ten unknowns, a few milliseconds of numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from rain_vtuber.landmarks.dots import group_centers

ANCHORS = ("right_eye", "left_eye", "nose", "mouth")
"""Anchor names; right/left are the character's own (iBUG order), so right_eye sits on the image's left."""

# Indices into the spec's 26 dot groups (drawing order): what the streamer sees is what we fit.
_JAW, _CHIN, _BROWS = slice(0, 5), 2, slice(5, 11)
_ANCHOR_GROUPS = {"right_eye": slice(16, 21), "left_eye": slice(21, 26), "nose": slice(15, 16), "mouth": slice(11, 15)}

Forward = Callable[[Mapping[str, float]], np.ndarray]
"""Parameter values by name -> the (68, 2) output points, normalised to the reference image."""


@dataclass(frozen=True)
class FaceFrame:
    """Where a face sits in the reference image, normalised 0..1.

    box: (left, top, right, bottom): the outer jaw dots, the highest brow dot, the chin dot.
    anchors: name in ANCHORS -> (x, y), the mean of that part's dots.
    """

    box: tuple[float, float, float, float]
    anchors: Mapping[str, tuple[float, float]]

    def vector(self) -> np.ndarray:
        """Box then anchors as one float64 vector (the residual layout)."""
        parts = [np.asarray(self.box, dtype=np.float64)]
        parts += [np.asarray(self.anchors[name], dtype=np.float64) for name in ANCHORS]
        return np.concatenate(parts)

    def to_json(self) -> dict:
        return {"box": list(self.box), "anchors": {k: list(v) for k, v in self.anchors.items()}}

    @classmethod
    def from_json(cls, data: Mapping) -> "FaceFrame":
        """Parse {"box": [l, t, r, b], "anchors": {name: [x, y]}}; ValueError on anything malformed."""
        try:
            box = tuple(float(v) for v in data["box"])
            anchors = {name: tuple(float(v) for v in data["anchors"][name]) for name in ANCHORS}
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"a face frame needs box [left, top, right, bottom] and anchors {', '.join(ANCHORS)}, as numbers") from err
        if len(box) != 4 or any(len(a) != 2 for a in anchors.values()):
            raise ValueError("box needs 4 numbers and every anchor 2")
        values = np.array(box + sum(anchors.values(), ()), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError("box and anchors must be finite numbers")
        left, top, right, bottom = box
        if right - left < 0.02 or bottom - top < 0.02:
            raise ValueError(f"face box {box} is empty or inverted")
        return cls(box=box, anchors=anchors)  # type: ignore[arg-type]


def measure(points: np.ndarray) -> FaceFrame:
    """(68, 2) transformed, normalised points -> the box and anchors of their 26 dots."""
    g = group_centers(np.asarray(points, dtype=np.float64))
    jaw, brows = g[_JAW], g[_BROWS]
    box = (float(jaw[:, 0].min()), float(brows[:, 1].min()), float(jaw[:, 0].max()), float(g[_CHIN, 1]))
    anchors = {name: tuple(float(v) for v in g[idx].mean(axis=0)) for name, idx in _ANCHOR_GROUPS.items()}
    return FaceFrame(box=box, anchors=anchors)  # type: ignore[arg-type]


def solve(
    forward: Forward,
    start: Mapping[str, float],
    bounds: Mapping[str, tuple[float, float]],
    target: FaceFrame,
    *,
    box_weight: float = 1.0,
    anchor_weight: float = 2.0,
    prior: float = 1e-3,
    iterations: int = 60,
) -> dict[str, float]:
    """Values of the parameters named in `bounds` that bring measure(forward(.)) closest to target.

    start: every parameter forward needs (the free ones start here, the rest stay fixed).
    prior: pull towards the start, relative to each range, so directions the marks do not
      determine stay where they were instead of drifting.
    Returns all of start with the free values replaced (always inside their bounds).
    """
    names = list(bounds)
    lo = np.array([bounds[n][0] for n in names], dtype=np.float64)
    hi = np.array([bounds[n][1] for n in names], dtype=np.float64)
    span = hi - lo
    x0 = np.clip(np.array([start[n] for n in names], dtype=np.float64), lo, hi)
    weights = np.concatenate([np.full(4, box_weight), np.full(2 * len(ANCHORS), anchor_weight)])
    goal = target.vector()
    prior_w = np.sqrt(prior) / span

    def values(x: np.ndarray) -> dict[str, float]:
        return {**start, **{n: float(v) for n, v in zip(names, x)}}

    def residual(x: np.ndarray) -> np.ndarray:
        fit = (measure(forward(values(x))).vector() - goal) * weights
        return np.concatenate([fit, (x - x0) * prior_w])

    def jacobian(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        jac = np.empty((r.size, x.size))
        for k in range(x.size):
            step = 1e-5 * span[k]
            xs = x.copy()
            # step inwards at the upper bound so the probe stays valid
            xs[k] = x[k] + step if x[k] + step <= hi[k] else x[k] - step
            jac[:, k] = (residual(xs) - r) / (xs[k] - x[k])
        return jac

    x, r = x0.copy(), residual(x0)
    cost, damping = float(r @ r), 1e-3
    for _ in range(iterations):
        jac = jacobian(x, r)
        jtj, jtr = jac.T @ jac, jac.T @ r
        improved = False
        while damping < 1e8:
            lhs = jtj + damping * (np.diag(np.diag(jtj)) + 1e-9 * np.eye(x.size))
            trial = np.clip(x - np.linalg.solve(lhs, jtr), lo, hi)
            r_trial = residual(trial)
            cost_trial = float(r_trial @ r_trial)
            if cost_trial < cost:
                improved = cost - cost_trial > 1e-12 * max(cost, 1e-12)
                x, r, cost = trial, r_trial, cost_trial
                damping = max(damping / 3.0, 1e-9)
                break
            damping *= 4.0
        if not improved:
            break
    return values(x)
