"""FaceDriver: what keeps the character alive on air, applied to every sampled face before it is drawn.

Once per sampled frame the daemon hands it the source's face (or None) and the audio mouth; it gives
back the face to draw, composed in this order:

1. the tracked face, or while tracking is lost idle life's base: the last tracked face cross-faded
   into the rig's neutral face placed on the character's face (`place`);
2. the audio mouth, as the audio settings' MouthMode says;
3. the named expressions switched on (hotkeys), fading in and out;
4. idle life's blinks, breathing and sway (and auto-blink for tracked sources that never blink).

Everything goes through the rig in one re-pose (face/repose.py), so every source and every output
gets the same behaviour. Faces that are partly or wholly idle are stamped with the driver's time and
marked synthetic: the renderer's loss easing and auto-fit never see or learn from them.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Mapping

import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.easing import Ramp
from rain_vtuber.face.expressions import BUILT_IN, Expression, ExpressionPlayer
from rain_vtuber.face.idle import IdleMotion, IdleOptions
from rain_vtuber.face.mouth import MOUTH_SHAPES, Mouth, MouthMode
from rain_vtuber.face.repose import repose
from rain_vtuber.face.state import FaceState

Placement = Callable[[np.ndarray], np.ndarray]
"""(68, 2) face points -> the same face moved and sized to where the character's neutral face is drawn."""

BLINK_SHAPES = ("eyeBlinkLeft", "eyeBlinkRight")
_RIG_NEUTRAL = rig.project(rig.NEUTRAL_MM)
_ALL_VALID = np.ones(68, dtype=bool)


class FaceDriver:
    """Tracked face (or None) + time + audio mouth -> the face to draw. Thread-safe.

    `expressions` is the player the control commands switch (on/off/toggle/clear/active/available).
    `place` puts the idle face on the character's face (PoseRenderer.place_neutral); without it the
    rig's neutral face is used where the rig draws it. `rng` makes idle life reproducible.
    """

    def __init__(
        self,
        idle: IdleOptions = IdleOptions(),
        audio_mode: MouthMode = "when_lost",
        expressions: Mapping[str, Expression] = BUILT_IN,
        place: Placement | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.expressions = ExpressionPlayer(expressions)
        self._lock = threading.Lock()
        self._place = place
        self._rng = rng if rng is not None else np.random.default_rng()
        self._audio_mode: MouthMode = audio_mode
        self._last: FaceState | None = None  # the last tracked face
        self._blink_source: str | None = None  # the source the blink detection is about
        self._blinks_seen = False
        self._status: dict[str, Any] = {"tracking": False, "idle": False, "audio": False, "auto_blink": False}
        self._configure(idle)

    def set_idle(self, options: IdleOptions) -> None:
        """New idle settings (config reload); turning idle off while idle hands the face back to the renderer."""
        with self._lock:
            self._configure(options)

    def set_audio_mode(self, mode: MouthMode) -> None:
        with self._lock:
            self._audio_mode = mode

    def drive(self, face: FaceState | None, t_ns: int, mouth: Mouth | None = None) -> FaceState | None:
        """The face to draw at t_ns (the sampler's monotonic time); None only with idle off and no face.

        mouth: the audio mouth now, None when there is no audio.
        """
        with self._lock:
            tracked = face is not None
            if face is not None:
                self._observe(face)
            self._lost.fade_s = self._idle.lost_fade_s if not tracked else self._idle.return_fade_s
            self._lost.set_target(0.0 if tracked or not self._idle.enabled else 1.0)
            idle = self._lost.advance(t_ns) if self._idle.enabled or tracked else 0.0
            base = self._base(face, idle)
            if base is None:
                self.expressions.overrides({}, t_ns)  # keep the fades in time
                self._status = {"tracking": False, "idle": False, "audio": False, "auto_blink": False}
                return None
            shapes = dict(base.expressions)
            audio = self._mouth(shapes, mouth, idle)
            shapes.update(self.expressions.overrides(shapes, t_ns))
            auto_blink = tracked and self._auto_blink()
            rotation = base.rotation
            closure = self._motion.blink(t_ns) * max(idle, float(auto_blink))
            if closure > 0.0:
                shapes.update({name: max(float(shapes.get(name, 0.0)), closure) for name in BLINK_SHAPES})
            if idle > 0.0:
                turn = self._motion.rotation(t_ns)
                own = rotation or (0.0, 0.0, 0.0)
                rotation = (own[0] + idle * turn[0], own[1] + idle * turn[1], own[2] + idle * turn[2])
            out = repose(base, shapes, rotation)
            if idle > 0.0:
                out = dataclasses.replace(out, timestamp_ns=t_ns, synthetic=True)
            self._status = {"tracking": tracked, "idle": idle > 0.0, "audio": audio, "auto_blink": auto_blink}
            return out

    def status(self) -> dict[str, Any]:
        """What drives the face now: tracking, idle, audio, auto_blink (bools) and the expressions switched on."""
        with self._lock:
            return {**self._status, "expressions": self.expressions.active()}

    def _configure(self, options: IdleOptions) -> None:
        self._idle = options
        self._motion = IdleMotion(options, self._rng)
        previous = getattr(self, "_lost", None)
        start = 1.0 if options.enabled and self._last is None else 0.0  # idle from the start, no fade from nothing
        self._lost = Ramp(options.lost_fade_s, start if previous is None else previous.level)

    def _observe(self, face: FaceState) -> None:
        """Remember the face, and whether its source sends blink shapes (per source)."""
        self._last = face
        if face.source != self._blink_source:
            self._blink_source, self._blinks_seen = face.source, False
        if not self._blinks_seen and any(name in face.expressions for name in BLINK_SHAPES):
            self._blinks_seen = True

    def _auto_blink(self) -> bool:
        mode = self._idle.auto_blink
        return mode == "on" or (mode == "auto" and not self._blinks_seen)

    def _base(self, face: FaceState | None, idle: float) -> FaceState | None:
        """The face before the layers: the tracked (or last tracked) face, cross-faded into the idle neutral."""
        live = face if face is not None else self._last
        if idle <= 0.0:
            return face
        neutral = self._neutral()
        if live is None or idle >= 1.0:
            return neutral
        return _blend(live, neutral, idle)

    def _neutral(self) -> FaceState:
        points = _RIG_NEUTRAL if self._place is None else np.asarray(self._place(_RIG_NEUTRAL), dtype=np.float64)
        return FaceState(points=points, valid=_ALL_VALID, rotation=(0.0, 0.0, 0.0), expressions={}, source="idle")

    def _mouth(self, shapes: dict[str, float], mouth: Mouth | None, idle: float) -> bool:
        """In place: the audio mouth over the base's shapes as the mode says; True when it shows."""
        if mouth is None or self._audio_mode == "off":
            return False
        audio = mouth.blend_shapes()
        if self._audio_mode == "always":
            shapes.update(audio)
        elif self._audio_mode == "blend":
            shapes.update({name: max(float(shapes.get(name, 0.0)), value) for name, value in audio.items()})
        else:  # when_lost: as far as tracking is lost, or fully for a source without mouth shapes
            last = self._last
            weight = idle if last is not None and MOUTH_SHAPES & set(last.expressions) else 1.0
            if weight <= 0.0:
                return False
            for name, value in audio.items():
                below = float(shapes.get(name, 0.0))
                shapes[name] = below + weight * (value - below)
        return True


def _blend(a: FaceState, b: FaceState, w: float) -> FaceState:
    """The face w of the way from a to b: points, blend shapes and rotation (b's valid points fill a's gaps)."""
    valid = a.valid & b.valid
    points = np.where(valid[:, None], a.points + w * (b.points - a.points), b.points)
    names = set(a.expressions) | set(b.expressions)
    expressions = {
        n: float(a.expressions.get(n, 0.0)) + w * (float(b.expressions.get(n, 0.0)) - float(a.expressions.get(n, 0.0)))
        for n in names
    }
    ra, rb = a.rotation or (0.0, 0.0, 0.0), b.rotation or (0.0, 0.0, 0.0)
    rotation = tuple(x + w * (y - x) for x, y in zip(ra, rb))
    return dataclasses.replace(
        a, points=points, valid=a.valid | b.valid, expressions=expressions, rotation=rotation  # type: ignore[arg-type]
    )
