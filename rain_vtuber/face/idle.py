"""Idle life: blinks at natural random intervals, slow breathing and a small head sway.

A character that freezes when tracking drops looks like a photo; a streamer who looks away, stands
up or loses the camera must still see a living face on air. IdleMotion gives the motion as blend
shapes and a head rotation offset, purely from the times it is given and an injected random
generator, so a seeded run is exact. FaceDriver (face/driver.py) puts it on the face.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from rain_vtuber.face.easing import smoothstep
from rain_vtuber.utils.strict import StrictModel

AutoBlink = Literal["auto", "on", "off"]

_CLOSING = 0.4
"""Share of a blink spent closing the lids; they open more slowly than they close."""
_ROLL_PERIOD = 1.37
"""Roll sways this many times slower than yaw: never in step, so the sway does not look mechanical."""


class IdleOptions(StrictModel):
    """The daemon config's `idle:` section: how the character lives while no face is tracked.

    On loss the face cross-fades into idle life where it is (lost_fade_s) and glides onto the
    character's face; when the face returns, idle life cross-fades back into tracking (return_fade_s).
    Gliding is never faster than glide_speed face sizes per second (brows-to-eyes spread, about 60
    pixels at 512x512), so a face lost at the frame's edge, or back somewhere else, never flies across.

    auto_blink blinks a tracked face too: `auto` when the source has sent no blink shapes (a VMC
    sender that tracks the head only), `on` always (a sender whose blink shapes never move), `off` never.
    """

    enabled: bool = True
    blink_min_s: float = Field(2.0, ge=0.3, le=60.0)
    blink_max_s: float = Field(6.0, ge=0.3, le=60.0)
    blink_s: float = Field(0.15, ge=0.05, le=1.0)
    breath_period_s: float = Field(4.5, ge=1.0, le=30.0)
    breath_deg: float = Field(0.8, ge=0.0, le=10.0)
    sway_period_s: float = Field(11.0, ge=2.0, le=120.0)
    sway_deg: float = Field(1.5, ge=0.0, le=15.0)
    lost_fade_s: float = Field(0.5, ge=0.0, le=5.0)
    return_fade_s: float = Field(0.5, ge=0.0, le=5.0)
    glide_speed: float = Field(1.0, ge=0.05, le=20.0)
    auto_blink: AutoBlink = "auto"

    @model_validator(mode="after")
    def _interval_in_order(self) -> "IdleOptions":
        if self.blink_max_s < self.blink_min_s:
            raise ValueError(f"blink_max_s ({self.blink_max_s}) must be at least blink_min_s ({self.blink_min_s})")
        return self


class IdleMotion:
    """Blink closure and head rotation offset at a given time; blinks start at random intervals.

    Not thread-safe (FaceDriver holds it under its lock). Times must come in order; a time that jumps
    far ahead (idle again after a long tracked stretch) schedules the next blink from it.
    """

    def __init__(self, options: IdleOptions, rng: np.random.Generator) -> None:
        self.options = options
        self._rng = rng
        self._origin_ns: int | None = None
        self._blink_ns = 0  # start of the current or next blink
        self._phases = rng.uniform(0.0, 2.0 * math.pi, size=3)  # breath, yaw, roll

    def blink(self, t_ns: int) -> float:
        """Lid closure 0 (open) .. 1 (shut) at t_ns: a quick close, a slower open."""
        self._start(t_ns)
        duration_ns = int(self.options.blink_s * 1e9)
        end = self._blink_ns + duration_ns
        if t_ns >= end:
            self._blink_ns = end + self._interval_ns()
            if self._blink_ns + duration_ns <= t_ns:  # the clock jumped: blink again a while from now
                self._blink_ns = t_ns + self._interval_ns()
        u = (t_ns - self._blink_ns) / duration_ns
        if u < 0.0:
            return 0.0
        if u < _CLOSING:
            return smoothstep(u / _CLOSING)
        return 1.0 - smoothstep((u - _CLOSING) / (1.0 - _CLOSING))

    def rotation(self, t_ns: int) -> tuple[float, float, float]:
        """(pitch, yaw, roll) degrees to add: breathing nods the head, the sway turns and tilts it."""
        self._start(t_ns)
        o = self.options
        t = (t_ns - self._origin_ns) * 1e-9  # type: ignore[operator]
        breath, yaw, roll = self._phases
        return (
            o.breath_deg * math.sin(2.0 * math.pi * t / o.breath_period_s + breath),
            o.sway_deg * math.sin(2.0 * math.pi * t / o.sway_period_s + yaw),
            0.5 * o.sway_deg * math.sin(2.0 * math.pi * t / (o.sway_period_s * _ROLL_PERIOD) + roll),
        )

    def _start(self, t_ns: int) -> None:
        if self._origin_ns is None:
            self._origin_ns = t_ns
            self._blink_ns = t_ns + self._interval_ns()

    def _interval_ns(self) -> int:
        return int(self._rng.uniform(self.options.blink_min_s, self.options.blink_max_s) * 1e9)
