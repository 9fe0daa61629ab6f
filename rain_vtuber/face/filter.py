"""Temporal smoothing of the 68 points: One-Euro filtering, easing to neutral on loss, smooth recovery.

The One-Euro filter (Casiez et al., CHI 2012) smooths hard when the face is still (no jitter) and
follows quickly when it moves (little lag). When tracking is lost the last pose is held for
`loss_delay_s` (so a single dropped frame is invisible), then eases to the neutral face over
`loss_ease_s` and holds it. When the face comes back, the output blends from whatever is shown to the
tracked face over `recover_s`, so nothing ever jumps.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from rain_vtuber.face.easing import smoothstep
from rain_vtuber.utils.strict import StrictModel


class FilterOptions(StrictModel):
    """The calibration's `filter:` section: One-Euro smoothing of the 68 points and the behaviour on loss."""

    enabled: bool = True
    min_cutoff: float = Field(1.5, ge=0.01, le=30.0)
    beta: float = Field(8.0, ge=0.0, le=100.0)
    d_cutoff: float = Field(1.0, ge=0.01, le=30.0)
    loss_delay_s: float = Field(0.3, ge=0.0, le=10.0)
    loss_ease_s: float = Field(0.8, ge=0.0, le=10.0)
    recover_s: float = Field(0.25, ge=0.0, le=5.0)


class OneEuro:
    """One-Euro filter over an (N, 2) array; the speed that opens the cutoff is per point."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_ns = 0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self, x: np.ndarray, t_ns: int) -> np.ndarray:
        self._x, self._dx, self._t_ns = x.copy(), np.zeros_like(x), t_ns
        return self._x.copy()

    def __call__(self, x: np.ndarray, t_ns: int) -> np.ndarray:
        if self._x is None or self._dx is None:
            return self.reset(x, t_ns)
        dt = (t_ns - self._t_ns) * 1e-9
        if dt <= 0.0:  # the same measurement again (renderer faster than the source)
            return self._x.copy()
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        speed = np.hypot(self._dx[:, 0], self._dx[:, 1])[:, None]
        alpha = self._alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = self._x + alpha * (x - self._x)
        self._t_ns = t_ns
        return self._x.copy()


class LandmarkFilter:
    """Points (or None for "no face") + time -> the points to render. Disabled: a plain pass-through."""

    def __init__(self, options: FilterOptions, neutral: np.ndarray) -> None:
        self.options = options
        self.neutral = np.asarray(neutral, dtype=np.float64)
        self._euro = OneEuro(options.min_cutoff, options.beta, options.d_cutoff)
        self._shown: np.ndarray | None = None  # last output; None until the first face
        self._lost_at: int | None = None  # when the face went away
        self._lost_from: np.ndarray | None = None  # what was shown then
        self._recover: tuple[int, np.ndarray] | None = None  # (start time, what was shown then)

    def update(self, points: np.ndarray | None, t_ns: int) -> np.ndarray:
        if not self.options.enabled:
            return self.neutral.copy() if points is None else np.asarray(points, dtype=np.float64)
        out = self._lost(t_ns) if points is None else self._tracked(np.asarray(points, np.float64), t_ns)
        self._shown = out
        return out.copy()

    def _tracked(self, points: np.ndarray, t_ns: int) -> np.ndarray:
        if self._shown is None:
            return self._euro.reset(points, t_ns)
        if self._lost_at is not None:
            self._lost_at = self._lost_from = None
            self._recover = (t_ns, self._shown)
            filtered = self._euro.reset(points, t_ns)
        else:
            filtered = self._euro(points, t_ns)
        if self._recover is None:
            return filtered
        start, shown = self._recover
        w = smoothstep((t_ns - start) * 1e-9 / self.options.recover_s) if self.options.recover_s > 0 else 1.0
        if w >= 1.0:
            self._recover = None
        return shown + w * (filtered - shown)

    def _lost(self, t_ns: int) -> np.ndarray:
        if self._shown is None:
            return self.neutral.copy()
        if self._lost_at is None:
            self._lost_at, self._lost_from, self._recover = t_ns, self._shown, None
        assert self._lost_from is not None
        elapsed = (t_ns - self._lost_at) * 1e-9 - self.options.loss_delay_s
        ease = self.options.loss_ease_s
        w = smoothstep(elapsed / ease) if ease > 0 else float(elapsed >= 0)
        return self._lost_from + w * (self.neutral - self._lost_from)
