"""Tracked points drawn over the tracked frame: what a streamer looks at to check tracking."""

from __future__ import annotations

import cv2
import numpy as np

from rain_vtuber.face.state import FaceState

_POINT = (60, 230, 90)
_TEXT = (255, 255, 255)


def draw_tracked_points(frame: np.ndarray | None, face: FaceState | None, size: int, label: str = "") -> np.ndarray:
    """size x size x 3 uint8 RGB: the square tracked frame (black if none) with the 68 points and a label."""
    if frame is None:
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
    else:
        canvas = np.ascontiguousarray(cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA))
    if face is not None:
        points = np.asarray(face.points, dtype=np.float64)
        keep = np.asarray(face.valid, dtype=bool) & np.isfinite(points).all(axis=1)
        keep &= (np.abs(np.where(np.isfinite(points), points, 0.0)) < 4.0).all(axis=1)
        for x, y in (points[keep] * size).round().astype(int).tolist():
            cv2.circle(canvas, (x, y), max(1, size // 256), _POINT, thickness=-1, lineType=cv2.LINE_AA)
    if label:
        cv2.putText(canvas, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, _TEXT, 1, cv2.LINE_AA)
    return canvas
