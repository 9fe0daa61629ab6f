"""The 26 anime groups, their colours, the dot radius and the dot drawing (spec "Drawing", golden 5.3)."""

from __future__ import annotations

import cv2
import numpy as np

# (first, second) 68-point index of each group, in drawing order; a one-point group repeats its index,
# so (L[a] + L[b]) / 2 is exactly the spec's mean for both kinds.
_GROUPS = (
    (1, 2), (4, 4), (8, 8), (12, 12), (15, 14),
    (17, 17), (18, 19), (20, 20),
    (23, 23), (24, 25), (26, 26),
    (60, 60), (62, 62), (64, 64), (66, 66),
    (33, 30),
    (36, 37), (37, 38), (38, 39), (40, 39), (41, 41),
    (42, 43), (43, 44), (44, 45), (46, 46), (47, 42),
)  # fmt: skip
GROUP_A = np.array([a for a, _ in _GROUPS])
GROUP_B = np.array([b for _, b in _GROUPS])

_JAW, _BROW_R, _BROW_L, _LIP = (0, 255, 255), (128, 0, 255), (255, 0, 128), (0, 0, 255)
_NOSE, _EYE_R, _EYE_L = (255, 0, 255), (255, 128, 128), (128, 128, 255)
COLORS: tuple[tuple[int, int, int], ...] = (
    (_JAW,) * 5 + (_BROW_R,) * 3 + (_BROW_L,) * 3 + (_LIP,) * 4 + (_NOSE,) + (_EYE_R,) * 5 + (_EYE_L,) * 5
)
"""Colour of each group; component k is written into channel k (channel 0 shows as red in PNGs)."""


def dot_radius(points: np.ndarray) -> int:
    """Radius in pixels from the UNtransformed (68, 2) points: max(int(3 * |p27 - p8| / 0.3), 1)."""
    size = float(np.linalg.norm(points[27] - points[8])) / 0.3
    return max(int(3 * size), 1)


def group_centers(points: np.ndarray) -> np.ndarray:
    """(..., 68, 2) transformed points -> (..., 26, 2) group means, normalised."""
    return (points[..., GROUP_A, :] + points[..., GROUP_B, :]) / 2


def group_pixels(centers: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., 26, 2) normalised centres -> int64 pixel (x, y), truncated toward zero like int()."""
    return np.trunc(centers * np.array([width, height], dtype=np.float64)).astype(np.int64)


def draw_dots(pixels: np.ndarray, radius: int, height: int, width: int) -> np.ndarray:
    """Black HxWx3 uint8 canvas with one filled 8-connected disc per group whose x and y are >= 1."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    limit = 4 * max(height, width)  # far-off dots are invisible anyway; keeps OpenCV's int32 happy
    radius = min(radius, limit)
    for (x, y), color in zip(np.clip(pixels, -1, limit).tolist(), COLORS):
        if x >= 1 and y >= 1:
            cv2.circle(canvas, (x, y), radius, color, thickness=-1, lineType=cv2.LINE_8)
    return canvas
