"""Auto-fit: learn once where the user's neutral face sits and how big it is, from the faces themselves.

A streamer sits wherever they sit: near or far, high or low in the camera image. The calibration
describes the character's face (the neutral face placed by framing.center and framing.scale, what the
character was drawn under); auto-fit sets Framing.neutral_x/y and neutral_size so that the user's
neutral face lands exactly there. It is a fixed offset and scale, learnt from the first steady
second of tracking (or from one face on request: a single image, "recenter"), not a per-frame
normalisation, so moving closer or further afterwards still changes the size naturally.

Position and size are measured on the brows, nose and eyes only: expressions (jaw, lips) move them
least, and the eyes are what must land on the drawn eyes. Faces a rig generates from head angles
(VMC, iFacialMocap) fit like camera faces; refitting the same head pose gives the same framing.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import annotated_types
import numpy as np

from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.placement import measure
from rain_vtuber.landmarks.calibration import Framing

STEADY_S = 1.0
"""How long the face must hold still before the fit is taken."""
MAX_DRIFT = 0.08
"""Steady: the rigid centre moves less than this many face sizes over the steady second ..."""
MAX_SIZE_CHANGE = 0.05
"""... and the face size changes by less than this fraction."""
MAX_TURN_DEG = 30.0
"""Steady faces also look at the camera: |pitch| and |yaw| below this, where the source knows them."""
MIN_FACES = 5
"""A steady second needs at least this many distinct faces (a stalled source is not steady)."""


_REF_CENTRE, REFERENCE_SIZE = measure(NEUTRAL_FACE)  # type: ignore[misc]
_REF_OFFSET = _REF_CENTRE - NEUTRAL_FACE.mean(axis=0)  # rigid centre relative to the point framing places


def framing_scale(framing: Framing) -> float:
    """The scale applied to tracked points: framing.scale, times the size fit if there is one."""
    if framing.neutral_size is None:
        return framing.scale
    return framing.scale * REFERENCE_SIZE / framing.neutral_size


@dataclass(frozen=True)
class FaceFit:
    """The user's neutral face: rigid centre and size in tracked-frame units."""

    centre: tuple[float, float]
    size: float

    @classmethod
    def of(cls, points: np.ndarray, valid: np.ndarray | None = None) -> FaceFit | None:
        """The fit of one face; None if its brows, nose or eyes are missing or it is implausibly small."""
        measured = measure(points, valid)
        if measured is None or not _plausible(measured[1]):
            return None
        centre, size = measured
        return cls((float(centre[0]), float(centre[1])), size)

    def framing(self, framing: Framing, size: bool = True) -> Framing:
        """framing with this face as the neutral: its rigid centre lands where the neutral face's does.

        size=False keeps framing's neutral_size (position only, what recenter does with auto_fit off).
        """
        fitted = framing.model_copy(update={"neutral_size": self.size}) if size else framing
        relative = framing_scale(fitted) / fitted.scale  # tracked units -> neutral-face units
        x, y = np.asarray(self.centre) - _REF_OFFSET / relative
        return fitted.model_copy(update={"neutral_x": _unit(x), "neutral_y": _unit(y)})


class SteadyFit:
    """Watches a stream of faces and returns the fit of the first steady second, once.

    Not thread-safe; one per render loop. reset() starts looking again.
    """

    def __init__(self, steady_s: float = STEADY_S) -> None:
        self._steady_ns = int(steady_s * 1e9)
        self._window: collections.deque[tuple[int, float, float, float]] = collections.deque()
        self.done = False

    def reset(self) -> None:
        self._window.clear()
        self.done = False

    def observe(
        self,
        points: np.ndarray,
        valid: np.ndarray,
        timestamp_ns: int,
        rotation: tuple[float, float, float] | None = None,
    ) -> FaceFit | None:
        """Feed one face; the averaged fit when this face completes the first steady second, else None."""
        if self.done:
            return None
        window = self._window
        if window and timestamp_ns <= window[-1][0]:
            return None  # the same face sampled again
        measured = measure(points, valid)
        if measured is None or not _plausible(measured[1]) or _turned(rotation):
            window.clear()
            return None
        (x, y), size = measured
        window.append((timestamp_ns, float(x), float(y), size))
        while len(window) > 1 and window[1][0] <= timestamp_ns - self._steady_ns:
            window.popleft()  # keep exactly one face at or before the start of the second
        samples = np.array([s[1:] for s in window])
        mean_size = float(samples[:, 2].mean())
        span = np.ptp(samples, axis=0)
        if max(span[0], span[1]) > MAX_DRIFT * mean_size or span[2] > MAX_SIZE_CHANGE * mean_size:
            while len(window) > 1:  # moving: start the second again from this face
                window.popleft()
            return None
        if len(window) < MIN_FACES or timestamp_ns - window[0][0] < self._steady_ns:
            return None
        self.done = True
        window.clear()
        return FaceFit((float(samples[:, 0].mean()), float(samples[:, 1].mean())), mean_size)


_SIZE_META = Framing.model_fields["neutral_size"].metadata
_SIZE_RANGE = (
    next(m.ge for m in _SIZE_META if isinstance(m, annotated_types.Ge)),
    next(m.le for m in _SIZE_META if isinstance(m, annotated_types.Le)),
)


def _plausible(size: float) -> bool:
    """Neutral sizes a calibration can store (a face of a few pixels is a tracker error)."""
    return _SIZE_RANGE[0] <= size <= _SIZE_RANGE[1]


def _turned(rotation: tuple[float, float, float] | None) -> bool:
    if rotation is None:
        return False
    pitch, yaw, _ = rotation
    return not (abs(pitch) < MAX_TURN_DEG and abs(yaw) < MAX_TURN_DEG)


def _unit(v: float) -> float:
    return min(max(float(v), 0.0), 1.0)
