"""Fixtures for the face tests: one real mediapipe face (the astronaut photo), tracked once."""

from __future__ import annotations

import pytest
from skimage import data

from rain_vtuber.face.state import FaceState
from rain_vtuber.sources.tracker import FaceTracker, crop_square
from tests.conftest import FACE_MODEL


@pytest.fixture(scope="session")
def astronaut_face() -> FaceState:
    """The real FaceLandmarker on scikit-image's astronaut: tracked points, its blend shapes, rig-set lids."""
    with FaceTracker(FACE_MODEL, video=False) as tracker:
        face = tracker.track(crop_square(data.astronaut(), 0.9, 512), source="webcam:0")
    assert face is not None
    return face
