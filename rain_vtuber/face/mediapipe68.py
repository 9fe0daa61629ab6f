"""MediaPipe FaceMesh (468/478 points) -> iBUG-68, so webcam faces speak the layout RAIN was driven with.

The correspondence is the published one quoted in ../shared/spec/face-protocols.md: 1-based iBUG
points 1..68, each the mean of one or two mesh vertices.
"""

from __future__ import annotations

import numpy as np

# One entry per iBUG point (0-based order); two indices mean "average these two vertices".
MEDIAPIPE_TO_IBUG68: tuple[tuple[int, ...], ...] = (
    # jaw 0-16
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # right brow 17-21, left brow 22-26
    (70,), (63,), (105,), (66,), (107,), (336,), (296,), (334,), (293,), (300,),
    # nose bridge 27-30, nostrils 31-35
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),
    # right eye 36-41, left eye 42-47
    (33,), (160,), (158,), (133,), (153,), (144,), (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips 48-59
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lips 60-67
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)

_FIRST = np.array([pair[0] for pair in MEDIAPIPE_TO_IBUG68], dtype=np.intp)
_SECOND = np.array([pair[-1] for pair in MEDIAPIPE_TO_IBUG68], dtype=np.intp)


def ibug68_from_mediapipe(mesh: np.ndarray) -> np.ndarray:
    """(N>=468, D) mesh points -> (68, D) iBUG points (same units, pairs averaged)."""
    if mesh.ndim != 2 or mesh.shape[0] < 468:
        raise ValueError(f"expected a (>=468, D) FaceMesh array, got {mesh.shape}")
    return (mesh[_FIRST] + mesh[_SECOND]) * 0.5
