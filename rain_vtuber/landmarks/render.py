"""FaceState -> 26-dot pose image: (auto-fit) framing -> expressions -> filter -> 17 transforms -> dots.

With Calibration.exact() (identity framing, expressions and filter off) this is exactly the spec's
pipeline, pixel for pixel.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from rain_vtuber.face.filter import LandmarkFilter
from rain_vtuber.face.neutral import IBUG68_MIRROR, NEUTRAL_FACE
from rain_vtuber.face.openness import normalise_openness
from rain_vtuber.face.placement import measure, place
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks.autofit import FaceFit, SteadyFit, framing_scale
from rain_vtuber.landmarks.calibration import Calibration, Framing
from rain_vtuber.landmarks.dots import dot_radius, draw_dots, group_centers, group_pixels
from rain_vtuber.landmarks.transforms import Translation, apply_translations, build_translations


def frame_points(points: np.ndarray, framing: Framing) -> np.ndarray:
    """Tracked-frame points -> output points: (p - neutral) * scale + center, exact for the identity.

    scale includes the size fit (autofit.framing_scale). Mirroring (framing.mirror) is applied
    before, in face_input.
    """
    scale, offset = _framing_affine(framing)
    return points * scale + offset


def _framing_affine(framing: Framing) -> tuple[float, np.ndarray]:
    """frame_points as p * scale + offset."""
    scale = framing_scale(framing)
    return scale, np.array([framing.center_x - framing.neutral_x * scale, framing.center_y - framing.neutral_y * scale])


def character_neutral(framing: Framing) -> np.ndarray:
    """Output points of the character's neutral face: the neutral face centred on framing.center, framing.scale big."""
    return (NEUTRAL_FACE - face_center(NEUTRAL_FACE)) * framing.scale + [framing.center_x, framing.center_y]


def place_on_neutral(points: np.ndarray, framing: Framing) -> np.ndarray:
    """Tracked-frame copy of a face (any place, any size) that `framing` draws on the character's neutral face.

    Its brows, nose and eyes get the neutral face's rendered centre and size (what auto-fit matches),
    so a face made up without a camera (idle life) lands on the character's face, mirrored or not.
    """
    centre, size = measure(character_neutral(framing))  # type: ignore[misc]
    drawn = place(points, centre, size)
    scale, offset = _framing_affine(framing)
    tracked = (drawn - offset) / scale
    return tracked[IBUG68_MIRROR] * [-1.0, 1.0] + [1.0, 0.0] if framing.mirror else tracked


def face_center(points: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float]:
    """The face's position: the mean of its (valid) points."""
    use = points if valid is None or not valid.any() else points[valid]
    x, y = use.mean(axis=0)
    return float(x), float(y)


def face_input(face: FaceState, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """float64 points and validity (NaN/inf and absurd coordinates are invalid), mirrored if asked."""
    points = np.asarray(face.points, dtype=np.float64)
    valid = np.asarray(face.valid, dtype=bool) & np.isfinite(points).all(axis=1)
    valid &= (np.abs(np.where(np.isfinite(points), points, 0.0)) < 100.0).all(axis=1)
    points = np.where(valid[:, None], points, 0.0)
    if mirror:
        return points[IBUG68_MIRROR] * [-1.0, 1.0] + [1.0, 0.0], valid[IBUG68_MIRROR]
    return points, valid


def render_points(points: np.ndarray, translations: tuple[Translation, ...], height: int, width: int) -> np.ndarray:
    """The spec's pose image from (68, 2) output-normalised points (radius, transforms, dots)."""
    radius = dot_radius(points)
    pixels = group_pixels(group_centers(apply_translations(points, translations)), height, width)
    return draw_dots(pixels, radius, height, width)


class PoseRenderer:
    """Turns FaceState (or None while no face is tracked) into HxWx3 uint8 pose images.

    Not thread-safe: one renderer per render loop. `clock` gives the time used while no face arrives.
    With auto_fit (and the calibration's framing.auto_fit on) the renderer learns the user's neutral
    position and size from the first steady second of the faces it renders, and keeps that fit
    across calibration changes (character switches); the calibrate page passes False and fits itself.
    """

    def __init__(
        self,
        calib: Calibration,
        height: int,
        width: int,
        clock: Callable[[], int] = time.monotonic_ns,
        auto_fit: bool = True,
    ) -> None:
        self.height, self.width = height, width
        self._clock = clock
        self._last: np.ndarray | None = None
        self._filter = LandmarkFilter(calib.filter, NEUTRAL_FACE)
        self._steady = SteadyFit() if auto_fit else None
        self._fit: FaceFit | None = None
        self.set_calibration(calib)

    @property
    def calibration(self) -> Calibration:
        """The calibration in force, with the fit learnt so far (save it to keep that)."""
        return self._calib

    @property
    def fit(self) -> FaceFit | None:
        """The user's neutral face learnt by auto-fit or recenter; None while still looking."""
        return self._fit

    @property
    def last_points(self) -> np.ndarray | None:
        """The (68, 2) output-normalised points of the last image, before the character transforms."""
        return None if self._last is None else self._last.copy()

    def set_calibration(self, calib: Calibration) -> None:
        """Switch calibration (character change or reload) without restarting the filter or the fit."""
        self._given = calib
        if self._fit is not None and calib.framing.auto_fit:
            calib = calib.model_copy(update={"framing": self._fit.framing(calib.framing)})
        self._calib = calib
        self._translations = build_translations(calib.shape)
        self._neutral = character_neutral(calib.framing)
        if calib.filter != self._filter.options:
            self._filter = LandmarkFilter(calib.filter, self._neutral)
        self._filter.neutral = self._neutral

    def place_neutral(self, points: np.ndarray) -> np.ndarray:
        """Tracked-frame copy of a face that this renderer draws on the character's neutral face now
        (calibration and fit in force); what idle life is placed with (FaceDriver's `place`)."""
        return place_on_neutral(points, self._calib.framing)

    def recenter(self, face: FaceState | None) -> bool:
        """Take this face as the neutral now: its position and (with auto_fit) its size.

        False when the face lacks the brows, nose or eyes to fit (nothing changes).
        """
        fit = None if face is None else FaceFit.of(*self._input(face))
        if fit is None:
            return False
        if self._given.framing.auto_fit:
            self._fit = fit
            self.set_calibration(self._given)
        else:
            framing = fit.framing(self._given.framing, size=False)
            self.set_calibration(self._given.model_copy(update={"framing": framing}))
        return True

    def render(self, face: FaceState | None) -> np.ndarray:
        """The pose image for this face; None (no face) eases to the neutral face and holds it."""
        points = self._points(face)
        self._last = points
        return render_points(points, self._translations, self.height, self.width)

    def _points(self, face: FaceState | None) -> np.ndarray:
        """Output-normalised 68 points: framed, expression-normalised, filtered (or eased to neutral)."""
        if face is not None:
            raw, valid = self._input(face)
            self._learn(raw, valid, face)
            if valid.any():
                framed = frame_points(raw, self._calib.framing)
                if not valid.all():  # fill holes from the last image so partial tracking does not twitch
                    framed[~valid] = (self._neutral if self._last is None else self._last)[~valid]
                shaped = normalise_openness(framed, self._calib.expressions)
                return self._filter.update(shaped, face.timestamp_ns)
        return self._filter.update(None, self._clock())

    def _learn(self, points: np.ndarray, valid: np.ndarray, face: FaceState) -> None:
        """Auto-fit: until a fit exists, look for the first steady second and apply it (never on synthetic faces)."""
        if self._steady is None or self._fit is not None or not self._given.framing.auto_fit:
            return
        if face.synthetic:  # idle life: not the user; it also breaks a steady second
            self._steady.reset()
            return
        fit = self._steady.observe(points, valid, face.timestamp_ns, face.rotation)
        if fit is not None:
            self._fit = fit
            self.set_calibration(self._given)

    def _input(self, face: FaceState) -> tuple[np.ndarray, np.ndarray]:
        return face_input(face, self._calib.framing.mirror)
