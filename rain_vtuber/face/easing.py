"""Easing shared by every fade of the face (filter recovery, expressions, idle life): no jumps, no kinks."""

from __future__ import annotations


def smoothstep(x: float) -> float:
    """0 at or below 0, 1 at or above 1, the cubic 3x^2 - 2x^3 between (zero speed at both ends)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


class Ramp:
    """A level 0..1 that moves towards its target at 1/fade_s per second of the times it is given.

    Driven by the caller's clock (no wall clock): each advance(t_ns) moves it by the time since the
    previous one, so a fade can turn round halfway without a jump. fade_s 0 switches at once.
    Change `target` with set_target.
    """

    def __init__(self, fade_s: float, level: float = 0.0) -> None:
        self.fade_s = fade_s
        self.level = level
        self.target = level
        self._t_ns: int | None = None

    def reset(self, level: float) -> None:
        """Stand still at `level` (no fade)."""
        self.level = self.target = level
        self._t_ns = None

    def set_target(self, target: float) -> None:
        """Head for `target`; a new target starts moving at the next advance (time before it does not count)."""
        if target != self.target:
            self.target = target
            self._t_ns = None

    def advance(self, t_ns: int) -> float:
        """Move towards the target by the time since the previous call; the eased level (smoothstep)."""
        dt = 0.0 if self._t_ns is None else max(t_ns - self._t_ns, 0) * 1e-9
        self._t_ns = t_ns if self._t_ns is None else max(self._t_ns, t_ns)
        step = 1.0 if self.fade_s <= 0.0 else dt / self.fade_s
        if self.target > self.level:
            self.level = min(self.level + step, self.target)
        else:
            self.level = max(self.level - step, self.target)
        return smoothstep(self.level)
