"""Real mediapipe FaceLandmarker on scikit-image's astronaut photo: tracker, video file, image folder, image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from rain_vtuber.errors import RainError
from rain_vtuber.face.openness import eye_openness, mouth_openness
from rain_vtuber.face.mediapipe68 import MEDIAPIPE_TO_IBUG68
from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.frames import FrameSource
from rain_vtuber.sources.blendshapes import ARKIT_NAMES
from rain_vtuber.sources.tracker import FaceTracker, crop_square
from tests.conftest import FACE_MODEL
from tests.sources.source_helpers import assert_anatomical, dot_pixels, write_face_video
from tests.waiting import wait_until

SPEC_COLOURS = {
    (0, 255, 255), (128, 0, 255), (255, 0, 128), (0, 0, 255), (255, 0, 255), (255, 128, 128), (128, 128, 255),
}


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def tracked(astronaut: np.ndarray):
    with FaceTracker(FACE_MODEL, video=False) as tracker:
        return tracker.track(crop_square(astronaut, 0.9, 512), source="astronaut")


def test_mapping_covers_68_points_with_mesh_indices() -> None:
    assert len(MEDIAPIPE_TO_IBUG68) == 68
    assert all(1 <= len(pair) <= 2 and all(0 <= i < 468 for i in pair) for pair in MEDIAPIPE_TO_IBUG68)


def test_crop_square_is_the_centred_square(astronaut: np.ndarray) -> None:
    wide = np.zeros((720, 1280, 3), dtype=np.uint8)
    wide[:, 640:] = 255  # right half white: the centred square is half black, half white
    square = crop_square(wide, 0.9, 512)
    assert square.shape == (512, 512, 3)
    assert square[:, :250].max() == 0 and square[:, 262:].min() == 255
    assert np.array_equal(crop_square(astronaut, 1.0, 512), astronaut)


def test_astronaut_gives_68_valid_anatomical_points(tracked) -> None:
    assert tracked is not None
    assert tracked.points.shape == (68, 2) and tracked.valid.all()
    assert_anatomical(tracked.points)
    # In the photo her head sits left of centre in the top third (about x 170-280, y 30-180 of 512 px),
    # so in the centred 0.9 crop every point lies in x 0.25..0.6, y 0..0.4, brow to chin about a fifth
    # of the frame, the jaw wider than the eye span.
    assert ((tracked.points > [0.25, 0.0]) & (tracked.points < [0.6, 0.4])).all()
    assert 0.12 < tracked.points[8, 1] - tracked.points[19, 1] < 0.3
    assert tracked.points[16, 0] - tracked.points[0, 0] > 1.5 * (tracked.points[45, 0] - tracked.points[36, 0])


def test_astronaut_blend_shapes_read_open_eyes_closed_jaw_and_a_smile(tracked) -> None:
    expressions = tracked.expressions
    # the 52 ARKit names but tongueOut, which the landmarker does not output; all 0..1
    assert set(expressions) == set(ARKIT_NAMES) - {"tongueOut"}
    assert all(0.0 <= v <= 1.0 for v in expressions.values())
    assert expressions["eyeBlinkLeft"] < 0.2 and expressions["eyeBlinkRight"] < 0.2  # her eyes are open
    assert expressions["jawOpen"] < 0.15  # jaw up: the smile shows teeth but the mouth is not dropped open
    assert expressions["mouthSmileLeft"] > 0.5 and expressions["mouthSmileRight"] > 0.5  # a broad, even smile
    assert abs(expressions["mouthSmileLeft"] - expressions["mouthSmileRight"]) < 0.2
    # the blend shapes set the lids and lips: eyes clearly open (a closed eye reads 0), mouth near closed
    assert min(eye_openness(tracked.points)) > 0.15 and mouth_openness(tracked.points) < 0.1
    assert tracked.rotation is not None and all(abs(a) < 30 for a in tracked.rotation)
    assert abs(tracked.rotation[1]) < 15 and abs(tracked.rotation[2]) < 15  # she faces the camera, head level
    assert tracked.position is not None and tracked.position[2] > 0.1  # in front of the camera


def test_astronaut_pose_image_has_the_spec_colours(tracked, render) -> None:
    image = render(tracked)
    colours = {tuple(int(c) for c in px) for px in image.reshape(-1, 3)} - {(0, 0, 0)}
    assert colours == SPEC_COLOURS
    assert all(len(dot_pixels(image, colour)) for colour in SPEC_COLOURS)


def test_no_face_gives_none() -> None:
    for video in (False, True):
        with FaceTracker(FACE_MODEL, video=video) as tracker:
            assert tracker.track(np.full((512, 512, 3), 127, dtype=np.uint8)) is None


def test_video_mode_tracks_consecutive_frames(astronaut: np.ndarray) -> None:
    square = crop_square(astronaut, 0.9, 512)
    with FaceTracker(FACE_MODEL, video=True) as tracker:
        faces = [tracker.track(np.roll(square, 4 * i, axis=1)) for i in range(5)]
    assert all(f is not None for f in faces)
    xs = [f.points[30, 0] for f in faces]
    assert xs == sorted(xs) and xs[-1] - xs[0] == pytest.approx(16 / 512, abs=0.01)  # follows the 16 px slide


@pytest.fixture(scope="module")
def face_video(astronaut: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 frames of the astronaut sliding sideways, mp4v."""
    return write_face_video(tmp_path_factory.mktemp("video") / "face.mp4", astronaut)


def tracked_frames(source: FrameSource) -> list:
    return list(source.iter_tracked())


def test_video_file_every_frame_tracked(face_video: Path) -> None:
    source = open_source(SourceConfig(kind="video", path=face_video))
    frames = tracked_frames(source)
    assert len(frames) == 8 and source.counters.received == 8
    assert all(f.face is not None and f.image.shape == (512, 512, 3) for f in frames)
    # the face slides right with the frames
    assert frames[-1].face.points[30, 0] > frames[0].face.points[30, 0] + 0.01


def test_video_thread_loops_in_real_time_and_stops(face_video: Path) -> None:
    source = open_source(SourceConfig(kind="video", path=face_video, loop=True, realtime=True))
    source.start()
    source.start()  # idempotent
    try:
        wait_until(lambda: source.counters.received > 10, 10)  # past the end: it looped
        assert source.state is TrackingState.TRACKING
        assert source.latest() is not None and source.latest_frame().shape == (512, 512, 3)
        assert source.error is None
    finally:
        source.stop()
        source.stop()
    assert not source.running
    assert source.counters.received < 8 * 25  # paced at 25 fps, not flat out


def test_image_folder_in_name_order_skips_unreadable(astronaut: np.ndarray, tmp_path: Path) -> None:
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    for index in range(3):
        cv2.imwrite(str(tmp_path / f"frame_{index:03d}.png"), np.roll(bgr, 8 * index, axis=1))
    (tmp_path / "frame_001b.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    source = open_source(SourceConfig(kind="folder", path=tmp_path))
    frames = tracked_frames(source)
    assert len(frames) == 3 and all(f.face is not None for f in frames)
    assert source.counters.rejected == 1
    xs = [f.face.points[30, 0] for f in frames]
    assert xs == sorted(xs)


def test_single_image_source(astronaut: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    frames = tracked_frames(open_source(SourceConfig(kind="image", path=path)))
    assert len(frames) == 1 and frames[0].face is not None and frames[0].face.valid.all()


def test_missing_and_broken_inputs(tmp_path: Path) -> None:
    with pytest.raises(RainError, match="does not exist"):
        open_source(SourceConfig(kind="video", path=tmp_path / "missing.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    source = open_source(SourceConfig(kind="video", path=broken))
    with pytest.raises(RainError, match="cannot open video"):
        tracked_frames(source)
    source.start()  # in a thread the same failure becomes state ERROR with the message, never an exception
    wait_until(lambda: source.state is TrackingState.ERROR, 5)
    assert "cannot open video" in source.error
    source.stop()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RainError, match="no images"):
        tracked_frames(open_source(SourceConfig(kind="folder", path=empty)))
