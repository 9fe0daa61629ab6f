"""Re-posing a face through the rig: new blend-shape values and/or head rotation for any FaceState.

Expressions, the audio mouth and idle life change a face after it was tracked. The 68 points must
then move as they would have for a real face doing that, whatever measured it: a rig face (VMC,
iFacialMocap: the points are the rig's projection) and a mediapipe face (tracked points, lids and
inner lips set by the rig) alike. So the rig is posed twice, in the face's own pose and in the new
one, and the difference is added to the face's points, turned and scaled to the face's own size by
a similarity fit of the rig onto the face; the lids and inner lips then open by the rig's change of
openness. The face stays where it is, as big as it is; points the change does not move do not move.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.openness import shift_openness
from rain_vtuber.face.placement import RIGID
from rain_vtuber.face.state import FaceState

Rotation = tuple[float, float, float]

_FIT_POINTS = np.arange(68)[RIGID]
"""Where the rig is fitted onto the face (the jaw and lips differ most between faces)."""


def repose(face: FaceState, shapes: Mapping[str, float] | None = None, rotation: Rotation | None = None) -> FaceState:
    """face with these blend shapes overriding its own (names not given keep their value) and, if given,
    this head rotation (pitch, yaw, roll degrees); its points moved to match. Same face if nothing changes.

    A face without a rotation is taken as facing the camera.
    """
    own_rotation = face.rotation or (0.0, 0.0, 0.0)
    new_rotation = own_rotation if rotation is None else tuple(float(a) for a in rotation)
    expressions = {**face.expressions, **(shapes or {})}
    if expressions == dict(face.expressions) and new_rotation == own_rotation:
        return face
    before = rig.project(rig.deform(face.expressions), own_rotation)
    after = rig.project(rig.deform(expressions), new_rotation)  # type: ignore[arg-type]
    points = face.points + (after - before) @ _rig_to_face(before, face.points, face.valid).T
    points = shift_openness(points, face.points, before, after)
    return dataclasses.replace(
        face,
        points=points,
        expressions=expressions,
        rotation=None if face.rotation is None and rotation is None else new_rotation,  # type: ignore[arg-type]
    )


def _rig_to_face(rig_points: np.ndarray, points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """2x2 scale-and-turn that best maps the rig's (centred) fit points onto the face's (least squares).

    The identity when fewer than 3 fit points are valid (the rig is framed like a typical face).
    """
    use = _FIT_POINTS[valid[_FIT_POINTS] & np.isfinite(points[_FIT_POINTS]).all(axis=1)]
    if len(use) < 3:
        return np.eye(2)
    src = rig_points[use] - rig_points[use].mean(axis=0)
    dst = points[use] - points[use].mean(axis=0)
    norm = float((src * src).sum())
    if norm <= 1e-18:
        return np.eye(2)
    a = float((src * dst).sum()) / norm
    b = float((src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum()) / norm
    return np.array([[a, -b], [b, a]])
