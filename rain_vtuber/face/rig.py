"""A canonical 3-D face: turns head rotation/position and ARKit blend shapes into iBUG-68 points.

Phone and VMC trackers send angles and blend shapes, not landmarks. Posing one average face
with them and projecting it like a webcam would see it gives points comparable to a
webcam-tracked face, so every source feeds the same renderer and calibration.

Model frame (millimetres, OpenCV camera convention): x to the image's right, y down, z away
from the camera; the face looks towards -z. Origin: between the eye corners. Proportions follow
adult anthropometry, tuned against mediapipe's iBUG-68 points on a real face.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from rain_vtuber.face.neutral import IBUG68_MIRROR
from rain_vtuber.face.state import FaceState

# Right half (image left, x < 0) plus the midline; the left half is mirrored from it.
_HALF: dict[int, tuple[float, float, float]] = {
    # jaw contour, ear level down to the chin
    0: (-72, 0, 72), 1: (-72, 16, 66), 2: (-71, 32, 58), 3: (-68, 50, 48), 4: (-63, 67, 37),
    5: (-54, 84, 26), 6: (-43, 98, 15), 7: (-26, 110, 5), 8: (0, 118, -2),
    # right brow, outer to inner
    17: (-56, -17, 14), 18: (-48, -23, 5), 19: (-37, -25, -1), 20: (-25, -24, -5), 21: (-13, -21, -7),
    # nose bridge (nasion .. tip) and the nostril base
    27: (0, -2, -10), 28: (0, 13, -17), 29: (0, 25, -24), 30: (0, 37, -31),
    31: (-15, 44, -8), 32: (-8, 47, -14), 33: (0, 49, -16),
    # right eye: outer corner, upper lid, inner corner, lower lid
    36: (-47, 0, 6), 37: (-39, -5, 0), 38: (-28, -5, -1), 39: (-18, 0, 0), 40: (-28, 4, -1), 41: (-39, 4, 0),
    # outer lips: right corner, upper lip to the middle; lower lip from the middle
    48: (-27, 68, 2), 49: (-17, 62, -9), 50: (-7, 59, -14), 51: (0, 60, -15),
    57: (0, 81, -13), 58: (-7, 80, -12), 59: (-17, 76, -8),
    # inner lips (closed): right corner, upper middle, lower middle
    60: (-23, 68, 0), 61: (-8, 68, -11), 62: (0, 68, -12), 66: (0, 68, -12), 67: (-8, 68, -11),
}


def _mirrored(half: Mapping[int, tuple[float, float, float]]) -> dict[int, tuple[float, float, float]]:
    """Complete a half-face table by mirroring x."""
    full = dict(half)
    for index, (x, y, z) in half.items():
        full.setdefault(int(IBUG68_MIRROR[index]), (-x, y, z))
    return full


def _table(points: Mapping[int, tuple[float, float, float]]) -> np.ndarray:
    out = np.zeros((68, 3))
    for index, xyz in points.items():
        out[index] = xyz
    return out


NEUTRAL_MM = _table(_mirrored(_HALF))
"""(68, 3) the neutral canonical face in millimetres (model frame)."""


def _shape(left: Mapping[int, tuple[float, float, float]], *, mirror: bool) -> np.ndarray:
    """(68, 3) displacement; `mirror` also moves the mirror points (x flipped)."""
    return _table(_mirrored(left) if mirror else left)


def _flipped(shape: np.ndarray) -> np.ndarray:
    """The same displacement on the other side of the face."""
    flipped = np.zeros_like(shape)
    flipped[IBUG68_MIRROR] = shape * np.array([-1.0, 1.0, 1.0])
    return flipped


def _sided(name: str, left: Mapping[int, tuple[float, float, float]]) -> dict[str, np.ndarray]:
    """"<name>Left" from a table on the face's left (image right), "<name>Right" mirrored."""
    shape = _shape(left, mirror=False)
    return {f"{name}Left": shape, f"{name}Right": _flipped(shape)}


# Linear blend shapes: ARKit name -> (68, 3) displacement in mm at value 1.
BLEND_SHAPES: dict[str, np.ndarray] = {
    # lids meet 3 mm below the eye-corner line
    **_sided("eyeBlink", {43: (0, 8, 0), 44: (0, 8, 0), 46: (0, -1, 0), 47: (0, -1, 0)}),
    **_sided("eyeSquint", {43: (0, 1.5, 0), 44: (0, 1.5, 0), 46: (0, -3, 0), 47: (0, -3, 0)}),
    **_sided("eyeWide", {43: (0, -2.5, 0), 44: (0, -2.5, 0), 46: (0, 0.5, 0), 47: (0, 0.5, 0)}),
    "jawOpen": _shape(
        {
            **{i: (0, 28, 0) for i in (65, 66, 67)},  # lower inner lip
            61: (0, -2, 0), 62: (0, -2, 0), 63: (0, -2, 0),  # upper inner lip lifts a little
            **{i: (0, 25, 0) for i in (55, 56, 57, 58, 59)},
            48: (0, 12, 0), 60: (0, 12, 0),  # corners drop half way
            8: (0, 24, 3), 7: (1, 22, 3), 6: (2, 17, 2), 5: (2, 11, 1), 4: (1, 5, 0),
        },
        mirror=True,
    ),
    "mouthClose": _shape({i: (0, -14, 0) for i in (55, 56, 57, 58, 59, 65, 66, 67)}, mirror=True),
    **_sided("mouthSmile", {54: (7, -6, 3), 64: (7, -6, 3), 53: (2, -2, 0), 55: (3, -3, 0),
                            63: (2, -2, 0), 65: (2, -2, 0)}),
    **_sided("mouthFrown", {54: (0, 5, 0), 64: (0, 5, 0), 55: (0, 2, 0), 65: (0, 2, 0)}),
    **_sided("mouthStretch", {54: (6, 1, 0), 64: (6, 1, 0), 53: (2, 0, 0), 55: (2, 0, 0),
                              63: (2, 0, 0), 65: (2, 0, 0)}),
    **_sided("mouthLowerDown", {65: (0, 5, 0), 55: (0, 4, 0), 56: (0, 4, 0), 66: (0, 2.5, 0), 57: (0, 2, 0)}),
    **_sided("mouthUpperUp", {63: (0, -4, 0), 52: (0, -3, 0), 53: (0, -3, 0), 62: (0, -2, 0), 51: (0, -1.5, 0)}),
    **_sided("mouthDimple", {54: (2, 0, 2), 64: (2, 0, 2)}),
    "mouthPucker": _shape(
        {48: (9.5, 0, -8), 60: (8, 0, -8), 49: (5, 1, -8), 59: (5, -1, -8),
         50: (1, 1, -8), 58: (1, -1, -8), 51: (0, 1, -8), 57: (0, -1, -8), 61: (2, 0, -8), 67: (2, 0, -8)},
        mirror=True,
    ),
    "mouthFunnel": _shape(
        {48: (6, 0, -6), 60: (6, 0, -6), 61: (1, -3, -6), 62: (0, -3, -6), 66: (0, 5, -6), 67: (1, 5, -6),
         51: (0, -2, -6), 57: (0, 2, -6)},
        mirror=True,
    ),
    **_sided("mouth", {i: (6, 0, 0) for i in range(48, 68)}),  # mouthLeft / mouthRight: the mouth slides
    **_sided("jaw", {5: (1.5, 0, 0), 6: (3, 0, 0), 7: (4.5, 0, 0), 8: (5, 0, 0), 9: (4.5, 0, 0), 10: (3, 0, 0),
                     11: (1.5, 0, 0), **{i: (4, 0, 0) for i in (55, 56, 57, 58, 59, 65, 66, 67)}}),  # jawLeft/Right
    **_sided("browDown", {22: (-1, 6, 0), 23: (0, 5, 0), 24: (0, 4.5, 0), 25: (0, 3.5, 0), 26: (0, 2.5, 0)}),
    "browInnerUp": _shape({21: (0, -8, 0), 20: (0, -5, 0), 19: (0, -1.5, 0)}, mirror=True),
    **_sided("browOuterUp", {26: (0, -7, 0), 25: (0, -5, 0), 24: (0, -3, 0)}),
    "cheekPuff": _shape({3: (-4, 0, 0), 4: (-4, 0, 0), 5: (-3, 0, 0)}, mirror=True),
}

# Camera: focal length in frame widths and where the neutral face sits, so a neutral frontal
# face spans forehead-to-chin ~60% of the square frame like a well-framed webcam face
# (mediapipe's forehead-chin span is ~1.44 x its nasion-chin span).
FOCAL = 1.2
_NASION_CHIN_FRACTION = 0.6 / 1.44
_NASION_Y_FRACTION = 0.2 + 0.44 * _NASION_CHIN_FRACTION
_NASION_CHIN_MM = float(NEUTRAL_MM[8, 1] - NEUTRAL_MM[27, 1])
DISTANCE_MM = FOCAL * _NASION_CHIN_MM / _NASION_CHIN_FRACTION
_OFFSET_Y_MM = (_NASION_Y_FRACTION - 0.5) * DISTANCE_MM / FOCAL - NEUTRAL_MM[27, 1]
PIVOT_MM = np.array([0.0, 40.0, 90.0])  # the neck axis the head turns about
MAX_TRANSLATION_MM = 300.0


def rotation_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Head angles in degrees (FaceState convention) -> 3x3 R = Ry(yaw) @ Rx(pitch) @ Rz(roll)."""
    p, y, r = (math.radians(a) for a in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def euler_from_matrix(matrix: np.ndarray) -> tuple[float, float, float]:
    """Inverse of rotation_matrix: 3x3 rotation -> (pitch, yaw, roll) in degrees."""
    pitch = math.asin(max(-1.0, min(1.0, -float(matrix[1, 2]))))
    yaw = math.atan2(float(matrix[0, 2]), float(matrix[2, 2]))
    roll = math.atan2(float(matrix[1, 0]), float(matrix[1, 1]))
    return math.degrees(pitch), math.degrees(yaw), math.degrees(roll)


_SHAPE_INDEX = {name: i for i, name in enumerate(BLEND_SHAPES)}
_SHAPE_STACK = np.stack(list(BLEND_SHAPES.values())).reshape(len(BLEND_SHAPES), -1)


def deform(expressions: Mapping[str, float]) -> np.ndarray:
    """ARKit blend shapes (0..1; unknown names ignored) -> (68, 3) face in mm, model frame."""
    weights = np.zeros(len(_SHAPE_INDEX))
    for name, value in expressions.items():
        index = _SHAPE_INDEX.get(name)
        if index is not None:
            weights[index] = value
    weights = np.clip(np.nan_to_num(weights, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    face = NEUTRAL_MM + (weights @ _SHAPE_STACK).reshape(68, 3)
    _uncross(face)
    return face


# (upper, lower) pairs that may touch but never cross: eye lids and inner lips.
_UPPER_LOWER = ((37, 41), (38, 40), (43, 47), (44, 46), (61, 67), (62, 66), (63, 65))


def _uncross(face: np.ndarray) -> None:
    """Blink + squint, or mouthClose without jawOpen, would cross lids or lips: meet at the mean."""
    for upper, lower in _UPPER_LOWER:
        if face[upper, 1] > face[lower, 1]:
            face[upper, 1] = face[lower, 1] = (face[upper, 1] + face[lower, 1]) / 2


def project(face_mm: np.ndarray, rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
            translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Pose a (68, 3) model-frame face and project it -> (68, 2) normalised square-frame coordinates.

    translation_m: head offset from its neutral spot in metres (x right, y down, z away from the
    camera), clamped to +-0.3 m so a bad value cannot throw the face out of the frame for good.
    """
    offset = np.clip(np.asarray(translation_m, dtype=float) * 1000.0, -MAX_TRANSLATION_MM, MAX_TRANSLATION_MM)
    offset = np.where(np.isfinite(offset), offset, 0.0)
    posed = (face_mm - PIVOT_MM) @ rotation_matrix(*rotation).T + PIVOT_MM
    camera = posed + np.array([0.0, _OFFSET_Y_MM, DISTANCE_MM]) + offset
    depth = np.maximum(camera[:, 2], 1.0)
    return 0.5 + FOCAL * camera[:, :2] / depth[:, None]


def camera_matrix() -> np.ndarray:
    """3x3 intrinsics of the rig camera in normalised frame units (for cv2.solvePnP)."""
    return np.array([[FOCAL, 0.0, 0.5], [0.0, FOCAL, 0.5], [0.0, 0.0, 1.0]])


def face_from_blend_shapes(expressions: Mapping[str, float], rotation: tuple[float, float, float] | None,
                           position: tuple[float, float, float] | None, translation_m: tuple[float, float, float],
                           source: str) -> FaceState:
    """The FaceState a blend-shape source publishes: rig points (all valid) plus the raw values."""
    points = project(deform(expressions), rotation or (0.0, 0.0, 0.0), translation_m)
    return FaceState(points=points, valid=np.ones(68, dtype=bool), rotation=rotation, position=position,
                     expressions=dict(expressions), source=source)
