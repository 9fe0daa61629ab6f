"""Where tracking and idle life meet: the face to build on, and how idle it is, frame by frame.

When the face is lost, the last tracked face cross-fades (IdleOptions.lost_fade_s) into the rig's
neutral face placed where it was, and that idle face glides onto the character's face. When the face
comes back, the idle face cross-fades into it (return_fade_s). Moving the face's place is never
faster than glide_speed (in sizes of the character's face, so in what is drawn), so losing a face at
the frame's edge, or finding it somewhere else, takes longer instead of jumping.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.easing import Ramp
from rain_vtuber.face.idle import IdleOptions
from rain_vtuber.face.placement import measure, place, separation
from rain_vtuber.face.state import FaceState

RIG_NEUTRAL = rig.project(rig.NEUTRAL_MM)
"""(68, 2) the rig's neutral face where the rig draws it: what idle life is made of."""
_ALL_VALID = np.ones(68, dtype=bool)
_PEAK = 1.5
"""A smoothstep fade moves at most 1.5 times its mean speed."""


class TrackingCrossfade:
    """Tracked face (or None) + time -> (base face, idle weight 0..1). Not thread-safe (FaceDriver locks)."""

    def __init__(self, options: IdleOptions) -> None:
        start = 1.0 if options.enabled else 0.0  # before any face: idle from the start, no fade from nothing
        self._look = Ramp(options.lost_fade_s, start)  # 0 tracked .. 1 idle
        self._settle = Ramp(options.lost_fade_s, start)  # 0 where the face was lost .. 1 on the character
        self._settled = start
        self._lost_at: np.ndarray | None = None  # the idle face where the face was lost
        self._tracking = False
        self.options = options
        self.last: FaceState | None = None
        """The last tracked face."""

    def stop(self) -> None:
        """Idle life is off: nothing idle any more (a face that comes back is shown at once)."""
        self._look.reset(0.0)
        self._tracking = False

    def base(self, face: FaceState | None, t_ns: int,
             character: Callable[[], np.ndarray]) -> tuple[FaceState, float]:
        """The face to build on at t_ns and how idle it is; `character()`: the idle face on the character's face
        (asked only while some idle face shows)."""
        if face is not None and not self._tracking:
            self._found(face, character)
        elif face is None and self._tracking:
            self._lost(character)
        if face is not None:
            self.last = face
            self._settle.set_target(self._settle.level)  # the face is back: the idle face waits where it is
        else:
            self._settle.set_target(1.0)
        self._look.set_target(0.0 if face is not None else 1.0)
        idle = self._look.advance(t_ns)
        self._settled = self._settle.advance(t_ns)
        live = face if face is not None else self.last
        if live is not None and idle <= 0.0:
            return live, 0.0
        neutral = FaceState(points=self._idle_points(character()), valid=_ALL_VALID, rotation=(0.0, 0.0, 0.0),
                            expressions={}, source="idle")
        if live is None or idle >= 1.0:
            return neutral, idle
        return _blend(live, neutral, idle), idle

    def _found(self, face: FaceState, character: Callable[[], np.ndarray]) -> None:
        """The face is back: fade into it, taking longer the further it is (on the character's scale).

        The very first face just fades in: until auto-fit has seen it, where it is drawn means little.
        """
        self._tracking = True
        glide = 0.0
        if self.last is not None:
            glide = self._glide_s(face.points, self._idle_points(character()))
        self._look.fade_s = max(self.options.return_fade_s, glide)

    def _lost(self, character: Callable[[], np.ndarray]) -> None:
        self._tracking = False
        self._look.fade_s = self.options.lost_fade_s
        if self._look.level > 0.0 or self.last is None:
            return  # lost again while still coming back: the idle face carries on from where it is
        here = measure(self.last.points, self.last.valid)
        self._lost_at = None if here is None else place(RIG_NEUTRAL, *here)
        self._settle.reset(0.0)
        glide = 0.0 if self._lost_at is None else self._glide_s(self._lost_at, character())
        self._settle.fade_s = max(self.options.lost_fade_s, glide)

    def _glide_s(self, a: np.ndarray, b: np.ndarray) -> float:
        """How long moving face a onto face b takes at glide_speed (at its smoothstep's fastest)."""
        return _PEAK * separation(a, b) / self.options.glide_speed

    def _idle_points(self, character: np.ndarray) -> np.ndarray:
        if self._lost_at is None:
            return character
        return self._lost_at + self._settled * (character - self._lost_at)


def _blend(a: FaceState, b: FaceState, w: float) -> FaceState:
    """The face w of the way from a to b: points, blend shapes and rotation (b's points fill a's gaps)."""
    both = a.valid & b.valid
    points = np.where(both[:, None], a.points + w * (b.points - a.points), b.points)
    names = set(a.expressions) | set(b.expressions)
    expressions = {}
    for name in names:
        x, y = float(a.expressions.get(name, 0.0)), float(b.expressions.get(name, 0.0))
        expressions[name] = x + w * (y - x)
    ra, rb = a.rotation or (0.0, 0.0, 0.0), b.rotation or (0.0, 0.0, 0.0)
    rotation = tuple(x + w * (y - x) for x, y in zip(ra, rb))
    return dataclasses.replace(
        a, points=points, valid=a.valid | b.valid, expressions=expressions, rotation=rotation  # type: ignore[arg-type]
    )
