"""mediapipe FaceMesh -> FaceState, plus the expressions and head angles read back off 68 points.

Webcam-like sources get landmarks but no blend shapes; blend-shape sources get blend shapes but
no landmarks (the rig makes them). Reading blinks, mouth and head angles off the 68 points with
measures calibrated on the rig itself gives every source the same expression scale.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.mediapipe68 import ibug68_from_mediapipe
from rain_vtuber.face.state import FaceState

# Points that expressions barely move: what head pose is solved from.
_POSE_POINTS = np.array([0, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45], dtype=np.intp)


def crop_square(image: np.ndarray, ratio: float, size: int) -> np.ndarray:
    """HxWx3 uint8 -> the centred square of side ratio*min(H, W), resized to size x size (the spec's frame)."""
    height, width = image.shape[:2]
    side = max(1, int(round(ratio * min(height, width))))
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(square)
    # INTER_AREA avoids aliasing on big reductions but costs ~6 ms at 720p; linear is plenty below 2x
    interpolation = cv2.INTER_AREA if side >= 2 * size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def _measures(points: np.ndarray) -> dict[str, float]:
    """Raw, scale-free measures behind each expression (lengths over eye span or nose length)."""
    p = points
    across = p[45] - p[36]
    span = float(np.hypot(*across))
    u = across / span  # along the eyes, towards the image's right
    v = np.array([-u[1], u[0]])  # down the face
    nose = float(np.hypot(*(p[33] - p[27])))

    def eye_aspect(a: int) -> float:  # lid gap over eye width, iBUG eye ring a..a+5
        gap = np.hypot(*(p[a + 1] - p[a + 5])) + np.hypot(*(p[a + 2] - p[a + 4]))
        return float(gap / (2.0 * np.hypot(*(p[a] - p[a + 3]))))

    def below(upper: int, lower: int) -> float:  # how far `lower` sits below `upper`, in nose lengths
        return float((p[lower] - p[upper]) @ v) / nose

    return {
        "eyeBlinkRight": eye_aspect(36),
        "eyeBlinkLeft": eye_aspect(42),
        "jawOpen": below(62, 66),
        "mouthSmileLeft": float((p[54] - p[51]) @ u) / span,
        "mouthSmileRight": float((p[51] - p[48]) @ u) / span,
        "mouthPucker": float((p[54] - p[48]) @ u) / span,
        "browInnerUp": (below(21, 39) + below(22, 42)) / 2.0,
        "browDownLeft": below(22, 42),
        "browDownRight": below(21, 39),
        "browOuterUpLeft": below(26, 45),
        "browOuterUpRight": below(17, 36),
    }


def _calibrate() -> tuple[dict[str, float], dict[str, float]]:
    """Each measure on the neutral rig face and its change at expression = 1."""
    neutral = _measures(rig.project(rig.NEUTRAL_MM))
    unit = {name: _measures(rig.project(rig.deform({name: 1.0})))[name] - neutral[name] for name in neutral}
    return neutral, unit


_NEUTRAL, _UNIT = _calibrate()


def expressions_from_points(points: np.ndarray) -> dict[str, float]:
    """(68, 2) iBUG points -> ARKit-named expressions in 0..1, on the rig's scale.

    Exact for rig faces seen frontally; for real faces the per-user ranges of the calibration
    (landmarks helper) turn these into the user's own 0..1.
    """
    points = np.asarray(points, dtype=float)
    scale = min(np.hypot(*(points[45] - points[36])), np.hypot(*(points[33] - points[27])))
    if not np.isfinite(points).all() or scale < 1e-6:
        return dict.fromkeys(_NEUTRAL, 0.0)  # degenerate face: nothing to measure
    measured = _measures(points)
    out = {}
    for name, value in measured.items():
        level = (value - _NEUTRAL[name]) / _UNIT[name]
        out[name] = min(max(level, 0.0), 1.0) if math.isfinite(level) else 0.0
    return out


def head_pose_from_points(points: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """(68, 2) points -> ((pitch, yaw, roll) degrees, position metres) by fitting the rig's 3-D face.

    Position is in the rig camera's frame (x right, y down, z away); None if the fit fails.
    """
    image = np.ascontiguousarray(points[_POSE_POINTS], dtype=np.float64)
    model = np.ascontiguousarray(rig.NEUTRAL_MM[_POSE_POINTS], dtype=np.float64)
    try:
        ok, rvec, tvec = cv2.solvePnP(model, image, rig.camera_matrix(), None, flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error:
        return None
    if not ok or not np.all(np.isfinite(rvec)) or not np.all(np.isfinite(tvec)):
        return None
    matrix, _ = cv2.Rodrigues(rvec)
    position = tuple(float(t) / 1000.0 for t in tvec.ravel())
    return rig.euler_from_matrix(matrix), position  # type: ignore[return-value]


class FaceTracker:
    """mediapipe FaceMesh (refined, 478 points, bundled offline models) on square RGB frames.

    Not thread-safe: create, use and close it on one thread.
    """

    def __init__(self, static_images: bool = False, min_confidence: float = 0.5) -> None:
        from mediapipe.python.solutions import face_mesh  # heavy import; only camera sources need it

        self._mesh = face_mesh.FaceMesh(
            static_image_mode=static_images,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def track(self, frame: np.ndarray, source: str = "") -> FaceState | None:
        """HxWx3 uint8 RGB square frame -> FaceState (points normalised to the frame), None if no face."""
        result = self._mesh.process(frame)
        faces = result.multi_face_landmarks
        if not faces:
            return None
        mesh = np.array([(lm.x, lm.y) for lm in faces[0].landmark], dtype=np.float64)
        points = ibug68_from_mediapipe(mesh)
        pose = head_pose_from_points(points)
        return FaceState(
            points=points,
            valid=np.isfinite(points).all(axis=1),
            rotation=pose[0] if pose else None,
            position=pose[1] if pose else None,
            expressions=expressions_from_points(points),
            source=source,
        )

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
