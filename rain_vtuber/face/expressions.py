"""Named expressions (hotkeys): blend-shape overrides that fade in and out over the tracked face.

An expression names the blend shapes it sets; every other shape stays tracked, so a wink keeps the
other eye blinking with the user's. Left and right are the character's own, as in ARKit:
`eyeBlinkLeft` and `wink_left` close the character's left eye, drawn on the image's right (with the
calibration's framing.mirror on, the whole face is mirrored, winks included).

Several expressions combine as layers in the order they were switched on: each one fades its shapes
from whatever is below it towards its own values, so the newest wins where two name the same shape,
and the one below shows again when it fades out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Mapping

from pydantic import Field, StringConstraints, field_validator

from rain_vtuber.errors import RainError
from rain_vtuber.face.easing import Ramp
from rain_vtuber.face.rig import BLEND_SHAPES
from rain_vtuber.utils.strict import StrictModel

DEFAULT_FADE_S = 0.15
"""Fade-in and fade-out time of an expression: quick as a hotkey, smooth over a few frames."""

ExpressionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
"""What an expression may be called (a hotkey or control-command argument)."""


class Expression(StrictModel):
    """One named expression: the ARKit blend shapes it sets (0..1) and its fade time in seconds."""

    shapes: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(min_length=1)
    fade_s: float = Field(DEFAULT_FADE_S, ge=0.0, le=5.0)

    @field_validator("shapes")
    @classmethod
    def _known_shapes(cls, shapes: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(shapes) - set(BLEND_SHAPES))
        if unknown:
            raise ValueError(
                f"unknown blend shapes {', '.join(unknown)}; the face rig knows {', '.join(sorted(BLEND_SHAPES))}"
            )
        return shapes


def _both(name: str, value: float) -> dict[str, float]:
    return {f"{name}Left": value, f"{name}Right": value}


BUILT_IN: dict[str, Expression] = {
    "wink_left": Expression(shapes={"eyeBlinkLeft": 1.0}),
    "wink_right": Expression(shapes={"eyeBlinkRight": 1.0}),
    "eyes_closed": Expression(shapes=_both("eyeBlink", 1.0)),
    "surprised": Expression(
        shapes={"browInnerUp": 1.0, **_both("browOuterUp", 1.0), **_both("browDown", 0.0), **_both("eyeWide", 1.0),
                **_both("eyeSquint", 0.0), "jawOpen": 0.35, "mouthFunnel": 0.5, "mouthPucker": 0.3}
    ),
    "smile": Expression(shapes={**_both("mouthSmile", 1.0), **_both("mouthFrown", 0.0), **_both("eyeSquint", 0.4)}),
    "angry": Expression(
        shapes={**_both("browDown", 1.0), "browInnerUp": 0.0, **_both("browOuterUp", 0.0),
                **_both("mouthFrown", 0.6), **_both("mouthSmile", 0.0)}
    ),
}
"""The expressions every character has; a character's `expressions:` adds to them or replaces them."""


def expression_set(custom: Mapping[str, Expression]) -> dict[str, Expression]:
    """The built-in expressions with a character's own added (same name: the character's wins)."""
    return {**BUILT_IN, **custom}


@dataclass
class _Layer:
    expression: Expression
    ramp: Ramp
    order: int


class ExpressionPlayer:
    """The expressions switched on now, fading in and out with the times of the faces they apply to.

    Thread-safe: the control thread switches, the sampler thread applies (`overrides`).
    """

    def __init__(self, expressions: Mapping[str, Expression] = BUILT_IN) -> None:
        self._lock = threading.Lock()
        self._known = dict(expressions)
        self._layers: dict[str, _Layer] = {}
        self._next_order = 0

    def available(self) -> list[str]:
        """Every expression that can be switched on, sorted."""
        with self._lock:
            return sorted(self._known)

    def active(self) -> list[str]:
        """The expressions switched on (fading in or shown), oldest first."""
        with self._lock:
            return [name for name, layer in self._ordered() if layer.ramp.target > 0.0]

    def on(self, name: str) -> None:
        """Fade this expression in, on top of the others; RainError for an unknown name."""
        with self._lock:
            self._switch(name, True)

    def hold(self, name: str) -> None:
        """Show this expression fully from the next face on, without fading in (`pose --expression`)."""
        with self._lock:
            self._switch(name, True)
            self._layers[name].ramp.reset(1.0)

    def off(self, name: str) -> None:
        """Fade this expression out (nothing if it is off); RainError for an unknown name."""
        with self._lock:
            self._switch(name, False)

    def toggle(self, name: str) -> bool:
        """Switch on if off, off if on; True when it is now on."""
        with self._lock:
            layer = self._layers.get(name)
            turn_on = layer is None or layer.ramp.target == 0.0
            self._switch(name, turn_on)
            return turn_on

    def clear(self) -> None:
        """Fade every expression out."""
        with self._lock:
            for layer in self._layers.values():
                layer.ramp.set_target(0.0)

    def set_expressions(self, expressions: Mapping[str, Expression]) -> None:
        """Another character's expressions: those still known follow their new definition, the others fade out."""
        with self._lock:
            self._known = dict(expressions)
            for name, layer in self._layers.items():
                if name in self._known:
                    layer.expression = self._known[name]
                    layer.ramp.fade_s = layer.expression.fade_s
                else:
                    layer.ramp.set_target(0.0)

    def overrides(self, shapes: Mapping[str, float], t_ns: int) -> dict[str, float]:
        """The blend shapes the expressions set at t_ns over these (tracked) values: only the names they set.

        Advances every fade to t_ns; an expression that has faded out is forgotten.
        """
        with self._lock:
            out: dict[str, float] = {}
            for name, layer in self._ordered():
                weight = layer.ramp.advance(t_ns)
                if weight <= 0.0:
                    if layer.ramp.target == 0.0:
                        del self._layers[name]
                    continue
                for shape, value in layer.expression.shapes.items():
                    below = out.get(shape, float(shapes.get(shape, 0.0)))
                    out[shape] = below + weight * (value - below)
            return out

    def _switch(self, name: str, on: bool) -> None:
        expression = self._expression(name)
        layer = self._layers.get(name)
        if not on:
            if layer is not None:
                layer.ramp.set_target(0.0)
            return
        if layer is None:
            layer = self._layers[name] = _Layer(expression, Ramp(expression.fade_s), self._next_order)
        elif layer.ramp.target == 0.0:
            layer.order = self._next_order  # switched on again: back on top
        else:
            return
        self._next_order += 1
        layer.ramp.set_target(1.0)

    def _ordered(self) -> list[tuple[str, _Layer]]:
        return sorted(self._layers.items(), key=lambda item: item[1].order)

    def _expression(self, name: str) -> Expression:
        try:
            return self._known[name]
        except KeyError:
            raise RainError(f"unknown expression {name!r}; known: {', '.join(sorted(self._known))}") from None
