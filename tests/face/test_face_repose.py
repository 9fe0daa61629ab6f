"""Re-posing faces through the rig: exact for rig faces, in place and anatomical for a real mediapipe face."""

from __future__ import annotations

import numpy as np
import pytest

from rain_vtuber.face import rig
from rain_vtuber.face.openness import eye_openness, mouth_openness, transfer_openness
from rain_vtuber.face.repose import repose
from rain_vtuber.face.state import FaceState
from tests.face.face_helpers import rig_face

RIGID = slice(17, 48)
BROWS_NOSE = np.r_[17:36]
LEFT_EYE, RIGHT_EYE = np.r_[42:48], np.r_[36:42]


def _size(points: np.ndarray) -> float:
    rigid = points[RIGID]
    return float(np.sqrt(((rigid - rigid.mean(axis=0)) ** 2).sum(axis=1).mean()))


def test_a_rig_face_reposes_to_exactly_the_rig_face_of_the_new_pose() -> None:
    face = rig_face({"jawOpen": 0.2, "eyeBlinkRight": 0.3}, rotation=(5.0, 10.0, 3.0))
    new_shapes = {"eyeBlinkLeft": 1.0, "mouthSmileLeft": 0.7, "mouthLowerDownLeft": 0.8, "jawOpen": 0.5}
    moved = repose(face, new_shapes, rotation=(-4.0, -12.0, 1.0))
    expected = rig_face({"eyeBlinkRight": 0.3, **new_shapes}, rotation=(-4.0, -12.0, 1.0))
    np.testing.assert_allclose(moved.points, expected.points, atol=1e-12)
    assert moved.expressions == {"jawOpen": 0.5, "eyeBlinkRight": 0.3, **new_shapes}
    assert moved.rotation == (-4.0, -12.0, 1.0)
    assert moved.timestamp_ns == face.timestamp_ns and moved.source == face.source and not moved.synthetic


def test_a_moved_rig_face_reposes_like_the_rig_where_it_is() -> None:
    """VMC / iFacialMocap faces carry a head translation the rig's own pose lacks: the fit absorbs it."""
    translation = (0.03, -0.02, 0.12)  # 3 cm right, 2 cm up, 12 cm further away
    face = rig_face({"jawOpen": 0.1}, rotation=(2.0, -6.0, 0.0), translation_m=translation)
    shapes = {"eyeBlinkLeft": 1.0, "browInnerUp": 1.0}
    expected = rig_face({"jawOpen": 0.1, **shapes}, rotation=(2.0, -6.0, 0.0), translation_m=translation)
    assert np.abs(repose(face, shapes).points - expected.points).max() * 512 < 0.1
    assert eye_openness(repose(face, shapes).points)[1] < 1e-3
    # a new head rotation 12 cm further away: only the perspective differs, under 1.5% of the face height
    turned = repose(face, shapes, rotation=(2.0, 4.0, 0.0))
    expected = rig_face({"jawOpen": 0.1, **shapes}, rotation=(2.0, 4.0, 0.0), translation_m=translation)
    height = float(np.linalg.norm(expected.points[8] - expected.points[27]))
    assert np.abs(turned.points - expected.points).max() < 0.015 * height


def test_nothing_to_change_gives_the_same_face() -> None:
    face = rig_face({"jawOpen": 0.2}, rotation=(1.0, 2.0, 3.0))
    assert repose(face) is face
    assert repose(face, {"jawOpen": 0.2}, rotation=(1.0, 2.0, 3.0)) is face
    assert repose(face, {"jawOpen": 0.3}) is not face


def test_a_face_without_rotation_keeps_none_unless_one_is_given() -> None:
    face = FaceState(points=rig_face().points, valid=np.ones(68, dtype=bool), expressions={})
    assert repose(face, {"jawOpen": 0.5}).rotation is None
    assert repose(face, rotation=(0.0, 5.0, 0.0)).rotation == (0.0, 5.0, 0.0)


def _like_the_tracker(face: FaceState, shapes: dict[str, float]) -> tuple[float, float, float]:
    """Eye and mouth openness the tracker would give this face making these shapes (lids from the rig)."""
    lids = transfer_openness(face.points, rig.project(rig.deform({**face.expressions, **shapes})))
    return (*eye_openness(lids), mouth_openness(lids))


@pytest.mark.parametrize(
    "shapes",
    [{"eyeBlinkLeft": 0.5}, {"eyeWideLeft": 1.0, "eyeWideRight": 1.0}, {"jawOpen": 0.3}, {"jawOpen": 0.8}],
)
def test_a_real_face_opens_its_eyes_and_mouth_as_the_tracker_would(astronaut_face: FaceState, shapes) -> None:
    moved = repose(astronaut_face, shapes)
    opened = (*eye_openness(moved.points), mouth_openness(moved.points))
    np.testing.assert_allclose(opened, _like_the_tracker(astronaut_face, shapes), atol=0.01)


def test_a_wink_on_a_real_face_closes_one_eye_and_nothing_else(astronaut_face: FaceState) -> None:
    face = astronaut_face
    winked = repose(face, {"eyeBlinkLeft": 1.0})
    right, left = eye_openness(winked.points)
    assert right == pytest.approx(eye_openness(face.points)[0], abs=1e-12) and left < 1e-3
    untouched = np.setdiff1d(np.arange(68), LEFT_EYE)
    np.testing.assert_array_equal(winked.points[untouched], face.points[untouched])
    # the lids close towards the lower lid, like the rig's blink: the eye's corners stay
    np.testing.assert_array_equal(winked.points[[42, 45]], face.points[[42, 45]])
    assert (winked.points[[43, 44], 1] > face.points[[43, 44], 1]).all()
    # and opens again as wide as it was (within 0.01 of its width; reopening adds the rig's difference)
    back = repose(winked, {"eyeBlinkLeft": face.expressions["eyeBlinkLeft"]})
    assert eye_openness(back.points)[1] == pytest.approx(eye_openness(face.points)[1], abs=0.01)
    np.testing.assert_array_equal(back.points[untouched], face.points[untouched])


def test_an_open_jaw_on_a_real_face_drops_the_chin_and_keeps_the_rest_in_place(astronaut_face: FaceState) -> None:
    face = astronaut_face
    opened = repose(face, {"jawOpen": 0.8})
    face_height = float(np.linalg.norm(face.points[8] - face.points[27]))
    assert 0.08 * face_height < opened.points[8, 1] - face.points[8, 1] < 0.3 * face_height
    np.testing.assert_array_equal(opened.points[BROWS_NOSE], face.points[BROWS_NOSE])
    np.testing.assert_array_equal(opened.points[36:48], face.points[36:48])


def test_turning_a_real_face_moves_it_like_the_rig_and_keeps_its_size(astronaut_face: FaceState) -> None:
    face = astronaut_face
    pitch, yaw, roll = face.rotation
    turned = repose(face, rotation=(pitch, yaw + 15.0, roll))
    width = float(face.points[16, 0] - face.points[0, 0])
    assert -0.25 * width < turned.points[30, 0] - face.points[30, 0] < -0.05 * width  # +yaw: towards image left
    assert _size(turned.points) == pytest.approx(_size(face.points), rel=0.05)
    # the head turns about the neck: its centre moves as far (in face sizes) as the rig's does
    rig_before, rig_after = rig_face(rotation=face.rotation), rig_face(rotation=(pitch, yaw + 15.0, roll))
    rig_shift = rig_after.points[RIGID].mean(axis=0) - rig_before.points[RIGID].mean(axis=0)
    shift = turned.points[RIGID].mean(axis=0) - face.points[RIGID].mean(axis=0)
    assert np.linalg.norm(shift) / _size(face.points) == pytest.approx(
        np.linalg.norm(rig_shift) / _size(rig_before.points), rel=0.03
    )
    # turning back lands within a fifth of a pixel (at 512) of where it started
    assert np.abs(repose(turned, rotation=face.rotation).points - face.points).max() * 512 < 0.2
