"""mediapipe FaceLandmarker -> FaceState: 478 points mapped to iBUG-68, its 52 blend shapes, head pose.

The blend shapes are what iFacialMocap and VMC send, so they take the same road: the expressions
of the FaceState, and through the rig the openness of the eyes and inner lips of the 68 points
(the rest of the points keep the tracked geometry). A blink of 0.7 then closes the character's
eye alike whichever source measured it, and one calibration range fits every source.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from rain_vtuber.face import rig
from rain_vtuber.face.mediapipe68 import ibug68_from_mediapipe
from rain_vtuber.face.openness import transfer_openness
from rain_vtuber.face.state import FaceState
from rain_vtuber.sources.blendshapes import to_arkit

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


def face_from_landmarks(mesh: np.ndarray, blend_shapes: dict[str, float], source: str = "") -> FaceState:
    """(478, 2) normalised mesh + ARKit blend shapes -> FaceState, lids and inner lips set by the rig."""
    tracked = ibug68_from_mediapipe(mesh)
    points = transfer_openness(tracked, rig.project(rig.deform(blend_shapes)))
    pose = head_pose_from_points(tracked)
    return FaceState(
        points=points,
        valid=np.isfinite(points).all(axis=1),
        rotation=pose[0] if pose else None,
        position=pose[1] if pose else None,
        expressions=blend_shapes,
        source=source,
    )


class FaceTracker:
    """mediapipe's FaceLandmarker (478 points + 52 blend shapes) on square RGB frames.

    `video`: frames of one stream (webcam, video, screen): VIDEO mode, which tracks the face from
    frame to frame and needs increasing timestamps; otherwise every frame is a new photo (IMAGE
    mode). LIVE_STREAM mode is not used: the source thread already drops frames it cannot keep
    up with, and a synchronous call keeps each frame with its face. Not thread-safe: create, use
    and close it on one thread.
    """

    def __init__(self, model: Path, video: bool = True, min_confidence: float = 0.5) -> None:
        from mediapipe.tasks.python import BaseOptions, vision  # heavy import; only camera sources need it

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._video = video
        self._last_ms = -1

    def track(self, frame: np.ndarray, source: str = "") -> FaceState | None:
        """HxWx3 uint8 RGB square frame -> FaceState (points normalised to the frame), None if no face."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        if self._video:
            self._last_ms = max(self._last_ms + 1, time.monotonic_ns() // 1_000_000)  # strictly increasing
            result = self._landmarker.detect_for_video(image, self._last_ms)
        else:
            result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        mesh = np.array([(p.x, p.y) for p in result.face_landmarks[0]], dtype=np.float64)
        scores = result.face_blendshapes[0] if result.face_blendshapes else []
        return face_from_landmarks(mesh, to_arkit((c.category_name, c.score) for c in scores), source)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
