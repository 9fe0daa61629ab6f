"""The canonical 3-D face rig and the expression/pose read-back that makes all sources comparable."""

from __future__ import annotations

import numpy as np
import pytest

from rain_vtuber.face import rig
from rain_vtuber.face.neutral import IBUG68_MIRROR
from rain_vtuber.face.openness import eye_openness, mouth_openness, transfer_openness
from rain_vtuber.face.state import FaceState
from rain_vtuber.sources.tracker import head_pose_from_points
from tests.sources.source_helpers import (
    assert_anatomical,
    check_blink,
    check_jaw_open,
    check_nose_moves,
    inner_lip_gap,
    lid_gap,
)


def rig_face(expressions: dict[str, float] | None = None,
             rotation: tuple[float, float, float] | None = None) -> FaceState:
    return rig.face_from_blend_shapes(expressions or {}, rotation, None, (0.0, 0.0, 0.0), "test")


def test_neutral_face_is_anatomical_symmetric_and_webcam_sized() -> None:
    points = rig.project(rig.NEUTRAL_MM)
    assert_anatomical(points)
    mirrored = points[IBUG68_MIRROR] * [-1, 1] + [1, 0]
    np.testing.assert_allclose(mirrored, points, atol=1e-12)
    # framed like a webcam face filling ~60% of the square: nasion-chin ~0.42, centred, inside the frame
    assert 0.38 < np.linalg.norm(points[27] - points[8]) < 0.46
    assert points[27, 0] == pytest.approx(0.5)
    assert 0.2 < points.min() and points.max() < 0.85


def test_blink_jaw_and_yaw_show_in_points_and_pose_image(render) -> None:
    neutral = rig_face()
    blinked = rig_face({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0})
    opened = rig_face({"jawOpen": 1.0})
    turned = rig_face(rotation=(0.0, 30.0, 0.0))
    image = render(neutral)
    check_blink(neutral, blinked, image, render(blinked))
    check_jaw_open(neutral, opened, image, render(opened))
    check_nose_moves(neutral, turned, image, render(turned), direction=-1)  # +yaw turns towards image left
    assert opened.points[8, 1] > neutral.points[8, 1] + 0.03  # the chin drops


def test_one_sided_and_mouth_shapes() -> None:
    neutral = rig.project(rig.NEUTRAL_MM)
    wink = rig.project(rig.deform({"eyeBlinkLeft": 1.0}))
    assert lid_gap(wink, "left") < 1e-9 and lid_gap(wink, "right") == pytest.approx(lid_gap(neutral, "right"))
    width = lambda p: p[54, 0] - p[48, 0]  # noqa: E731
    assert width(rig.project(rig.deform({"mouthSmileLeft": 1, "mouthSmileRight": 1}))) > width(neutral) + 0.03
    assert width(rig.project(rig.deform({"mouthStretchLeft": 1, "mouthStretchRight": 1}))) > width(neutral) + 0.02
    assert width(rig.project(rig.deform({"mouthPucker": 1}))) < width(neutral) - 0.04
    assert width(rig.project(rig.deform({"mouthFunnel": 1}))) < width(neutral) - 0.02
    assert inner_lip_gap(rig.project(rig.deform({"mouthFunnel": 1}))) > 0.02
    smile = rig.project(rig.deform({"mouthSmileLeft": 1}))
    assert smile[54, 1] < neutral[54, 1] and smile[48, 1] == pytest.approx(neutral[48, 1])
    up = rig.project(rig.deform({"browInnerUp": 1, "browOuterUpLeft": 1, "browOuterUpRight": 1}))
    down = rig.project(rig.deform({"browDownLeft": 1, "browDownRight": 1}))
    assert (up[17:27, 1] < neutral[17:27, 1]).all() and (down[17:27, 1] > neutral[17:27, 1]).all()


def test_lids_and_lips_never_cross() -> None:
    for shapes in ({"eyeBlinkLeft": 1, "eyeSquintLeft": 1, "eyeBlinkRight": 1, "eyeSquintRight": 1},
                   {"mouthClose": 1}, {"eyeBlinkLeft": 5.0, "jawOpen": float("nan")}):
        face = rig.deform(shapes)
        for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46), (61, 67), (62, 66), (63, 65)):
            assert face[upper, 1] <= face[lower, 1]
        assert np.isfinite(face).all()


@pytest.mark.parametrize("rotation", [(10.0, 20.0, 5.0), (-15.0, -35.0, -10.0), (0.0, 0.0, 0.0), (20.0, 0.0, 25.0)])
def test_head_pose_read_back_from_rig_points(rotation: tuple[float, float, float]) -> None:
    pose = head_pose_from_points(rig.project(rig.NEUTRAL_MM, rotation))
    assert pose is not None
    np.testing.assert_allclose(pose[0], rotation, atol=0.5)


def test_roll_is_clockwise_and_pitch_looks_down() -> None:
    neutral = rig.project(rig.NEUTRAL_MM)
    rolled = rig.project(rig.NEUTRAL_MM, (0.0, 0.0, 20.0))
    assert rolled[45, 1] > neutral[45, 1] and rolled[36, 1] < neutral[36, 1]  # image-right eye drops
    pitched = rig.project(rig.NEUTRAL_MM, (20.0, 0.0, 0.0))
    nose_to_chin = lambda p: p[8, 1] - p[30, 1]  # noqa: E731
    assert nose_to_chin(pitched) < nose_to_chin(neutral)  # looking down foreshortens the lower face


@pytest.mark.parametrize("shapes", [{"eyeBlinkLeft": 1.0}, {"eyeBlinkRight": 0.5, "jawOpen": 0.7}, {"mouthFunnel": 1.0}])
def test_transfer_openness_takes_lids_and_lips_from_the_rig_and_keeps_the_rest(shapes: dict[str, float]) -> None:
    # a tracked face: the rig turned 20 degrees and shifted, so the eye axes are not the rig's
    tracked = rig.project(rig.NEUTRAL_MM, rotation=(0.0, 0.0, 20.0), translation_m=(0.02, 0.01, 0.0))
    template = rig.project(rig.deform(shapes))
    out = transfer_openness(tracked, template)
    np.testing.assert_allclose(eye_openness(out), eye_openness(template), atol=1e-9)
    assert mouth_openness(out) == pytest.approx(mouth_openness(template), abs=1e-9)
    moved = np.flatnonzero(np.abs(out - tracked).max(axis=1) > 1e-12)
    assert set(moved) <= {37, 38, 40, 41, 43, 44, 46, 47, 61, 62, 63, 65, 66, 67}  # lids and inner lips only
    for upper, lower in ((37, 41), (44, 46), (62, 66)):  # each pair keeps its midpoint
        np.testing.assert_allclose(out[upper] + out[lower], tracked[upper] + tracked[lower], atol=1e-12)


def test_translation_moves_and_is_clamped() -> None:
    neutral = rig.project(rig.NEUTRAL_MM)
    moved = rig.project(rig.NEUTRAL_MM, translation_m=(0.05, 0.0, 0.0))
    assert moved[30, 0] > neutral[30, 0] + 0.1
    wild = rig.project(rig.NEUTRAL_MM, translation_m=(1e9, float("nan"), -1e9))
    assert np.isfinite(wild).all()


def test_degenerate_points_give_no_head_pose() -> None:
    assert head_pose_from_points(np.full((68, 2), np.nan)) is None
