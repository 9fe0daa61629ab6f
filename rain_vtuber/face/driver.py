"""FaceDriver: what keeps the character alive on air, applied to every sampled face before it is drawn.

Once per sampled frame the daemon hands it the source's face (or None) and the audio mouth; it gives
back the face to draw, composed in this order:

1. the tracked face, or while tracking is lost the idle face it cross-fades into, which glides onto
   the character's face (face/crossfade.py; `place` says where the character's face is);
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
from typing import Any, Callable, Mapping, get_args

import numpy as np

from rain_vtuber.face.crossfade import RIG_NEUTRAL, TrackingCrossfade
from rain_vtuber.face.expressions import BUILT_IN, Expression, ExpressionPlayer
from rain_vtuber.face.idle import IdleMotion, IdleOptions
from rain_vtuber.face.mouth import MOUTH_SHAPES, Mouth, MouthMode
from rain_vtuber.face.repose import repose
from rain_vtuber.face.state import FaceState

Placement = Callable[[np.ndarray], np.ndarray]
"""(68, 2) face points -> the same face moved and sized to where the character's neutral face is drawn."""

BLINK_SHAPES = ("eyeBlinkLeft", "eyeBlinkRight")
_NOT_DRIVING = {"tracking": False, "idle": False, "audio": False, "auto_blink": False}


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
        self._audio_mode = _checked(audio_mode)
        self._crossfade = TrackingCrossfade(idle)
        self._blink_source: str | None = None  # the source the blink detection is about
        self._blinks_seen = False
        self._status: dict[str, Any] = dict(_NOT_DRIVING)
        self._configure(idle)

    def set_idle(self, options: IdleOptions) -> None:
        """New idle settings (config reload); turning idle off while idle hands the face back to the renderer."""
        with self._lock:
            self._configure(options)

    def set_audio_mode(self, mode: MouthMode) -> None:
        """How the audio mouth meets the tracked one from the next frame on (the audio settings' mode)."""
        with self._lock:
            self._audio_mode = _checked(mode)

    def drive(self, face: FaceState | None, t_ns: int, mouth: Mouth | None = None) -> FaceState | None:
        """The face to draw at t_ns (the sampler's monotonic time); None only with idle off and no face.

        mouth: the audio mouth now, None when there is no audio.
        """
        with self._lock:
            tracked = face is not None
            if face is not None:
                self._observe(face)
            elif not self._idle.enabled:
                self._crossfade.stop()
                self.expressions.overrides({}, t_ns)  # keep the fades in time
                self._status = dict(_NOT_DRIVING)
                return None
            base, idle = self._crossfade.base(face, t_ns, self._on_character)
            shapes = dict(base.expressions)
            audio = self._mouth(shapes, mouth, idle)
            shapes.update(self.expressions.overrides(shapes, t_ns))
            auto_blink = tracked and self._auto_blink()
            closure = self._motion.blink(t_ns) * max(idle, float(auto_blink))
            if closure > 0.0:
                shapes.update({name: max(float(shapes.get(name, 0.0)), closure) for name in BLINK_SHAPES})
            rotation = base.rotation
            if idle > 0.0:
                turn, own = self._motion.rotation(t_ns), rotation or (0.0, 0.0, 0.0)
                rotation = (own[0] + idle * turn[0], own[1] + idle * turn[1], own[2] + idle * turn[2])
            out = repose(base, shapes, rotation)
            if idle > 0.0 or not tracked:  # not (only) the face tracked now
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
        self._crossfade.options = options

    def _observe(self, face: FaceState) -> None:
        """Note whether the face's source sends blink shapes (looked for again when the source changes)."""
        if face.source != self._blink_source:
            self._blink_source, self._blinks_seen = face.source, False
        if not self._blinks_seen and any(name in face.expressions for name in BLINK_SHAPES):
            self._blinks_seen = True

    def _auto_blink(self) -> bool:
        mode = self._idle.auto_blink
        return mode == "on" or (mode == "auto" and not self._blinks_seen)

    def _on_character(self) -> np.ndarray:
        """The rig's neutral face where the character's neutral face is drawn."""
        return RIG_NEUTRAL if self._place is None else np.asarray(self._place(RIG_NEUTRAL), dtype=np.float64)

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
            last = self._crossfade.last
            weight = idle if last is not None and MOUTH_SHAPES & set(last.expressions) else 1.0
            if weight <= 0.0:
                return False
            for name, value in audio.items():
                below = float(shapes.get(name, 0.0))
                shapes[name] = below + weight * (value - below)
        return True


def _checked(mode: str) -> MouthMode:
    if mode not in get_args(MouthMode):
        raise ValueError(f"audio mode must be one of {', '.join(get_args(MouthMode))}, got {mode!r}")
    return mode  # type: ignore[return-value]
