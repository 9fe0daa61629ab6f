"""Filtering, loss/recovery easing and expression normalisation, through the real renderer too."""

from __future__ import annotations

import numpy as np

from rain_vtuber.face.filter import FilterOptions, LandmarkFilter
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.openness import (
    EYE_OPEN,
    MOUTH_OPEN,
    OpennessRanges,
    eye_openness,
    mouth_openness,
    normalise_openness,
)
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer
from rain_vtuber.landmarks.calibration import Framing

MS = 1_000_000
OPTIONS = FilterOptions(loss_delay_s=0.2, loss_ease_s=0.5, recover_s=0.3)


def _away(points: np.ndarray, dx: float) -> np.ndarray:
    return points + [dx, 0.0]


def _max_step(frames: list[np.ndarray]) -> float:
    return max(float(np.abs(b - a).max()) for a, b in zip(frames, frames[1:]))


def test_one_euro_smooths_jitter_but_follows_motion() -> None:
    rng = np.random.default_rng(1)
    filt = LandmarkFilter(OPTIONS, NEUTRAL_FACE)
    noisy = [NEUTRAL_FACE + rng.normal(0, 0.004, (68, 2)) for _ in range(120)]
    out = [filt.update(p, i * 33 * MS) for i, p in enumerate(noisy)]
    assert np.std(np.array(out[30:]) - NEUTRAL_FACE) < 0.5 * np.std(np.array(noisy[30:]) - NEUTRAL_FACE)
    # A steady move is followed closely once it settles.
    moved = [filt.update(_away(NEUTRAL_FACE, 0.1), (120 + i) * 33 * MS) for i in range(30)]
    np.testing.assert_allclose(moved[-1], _away(NEUTRAL_FACE, 0.1), atol=2e-3)


def test_loss_holds_then_eases_to_neutral_and_holds() -> None:
    filt = LandmarkFilter(OPTIONS, NEUTRAL_FACE)
    face = _away(NEUTRAL_FACE, 0.15)
    for i in range(10):
        filt.update(face, i * 33 * MS)
    t0 = 10 * 33 * MS
    held = filt.update(None, t0 + 100 * MS)  # within loss_delay_s: no change yet
    np.testing.assert_allclose(held, face, atol=1e-9)
    frames = [filt.update(None, t0 + t * MS) for t in range(100, 1200, 33)]
    assert _max_step(frames) < 0.15 / 5  # eased over many frames, not one jump
    np.testing.assert_allclose(frames[-1], NEUTRAL_FACE, atol=1e-12)  # arrived and holds
    np.testing.assert_allclose(filt.update(None, t0 + 5000 * MS), NEUTRAL_FACE, atol=1e-12)


def test_recovery_has_no_jump() -> None:
    filt = LandmarkFilter(OPTIONS, NEUTRAL_FACE)
    for i in range(5):
        filt.update(NEUTRAL_FACE, i * 33 * MS)
    for t in range(200, 3000, 33):
        filt.update(None, t * MS)
    back = _away(NEUTRAL_FACE, -0.2)
    frames = [filt.update(None, 3000 * MS)] + [filt.update(back, (3033 + 33 * i) * MS) for i in range(30)]
    assert float(np.abs(frames[1] - frames[0]).max()) < 0.2 / 5  # first tracked frame: small step
    assert _max_step(frames) < 0.2 / 4
    np.testing.assert_allclose(frames[-1], back, atol=1e-9)  # and it does arrive


def test_disabled_filter_passes_through() -> None:
    filt = LandmarkFilter(FilterOptions(enabled=False), NEUTRAL_FACE)
    face = _away(NEUTRAL_FACE, 0.05)
    np.testing.assert_array_equal(filt.update(face, 0), face)
    np.testing.assert_array_equal(filt.update(None, 1), NEUTRAL_FACE)


def _with_openness(eye: float, mouth: float) -> np.ndarray:
    """The neutral face with its lid and inner-lip gaps set directly (level face: across = +y)."""
    points = NEUTRAL_FACE.copy()
    for (a, b), w in (((37, 41), 0.08), ((38, 40), 0.08), ((43, 47), 0.08), ((44, 46), 0.08)):
        mid = (points[a, 1] + points[b, 1]) / 2
        points[a, 1], points[b, 1] = mid - eye * w / 2, mid + eye * w / 2
    for a, b in ((61, 67), (62, 66), (63, 65)):
        points[b, 1] = points[a, 1] + mouth * 0.1
    return points


def test_expression_ranges_map_user_to_full_range() -> None:
    ranges = OpennessRanges(eye_closed=0.12, eye_open=0.25, mouth_closed=0.05, mouth_open=0.4)
    closed = normalise_openness(_with_openness(0.12, 0.0), ranges)
    assert max(eye_openness(closed)) < 1e-9 and mouth_openness(closed) < 1e-9
    wide = normalise_openness(_with_openness(0.25, 0.4), ranges)
    np.testing.assert_allclose(eye_openness(wide), (EYE_OPEN, EYE_OPEN), atol=1e-9)
    assert abs(mouth_openness(wide) - MOUTH_OPEN) < 1e-9
    half = normalise_openness(_with_openness(0.185, 0.225), ranges)
    np.testing.assert_allclose(eye_openness(half), (EYE_OPEN / 2, EYE_OPEN / 2), atol=1e-9)
    off = OpennessRanges(enabled=False)
    np.testing.assert_array_equal(normalise_openness(_with_openness(0.1, 0.1), off), _with_openness(0.1, 0.1))


def _eye_height(image: np.ndarray) -> int:
    """Rows spanned by the right-eye dots (pixels of that group colour)."""
    rows = np.flatnonzero(np.all(image == (255, 128, 128), axis=2).any(axis=1))
    return int(rows.max() - rows.min() + 1)


def test_renderer_closed_eyes_collapse_the_eye_groups() -> None:
    """A blink at the user's own closed level puts the character's eye dots on one line."""
    calib = Calibration(filter=FilterOptions(enabled=False))
    renderer = PoseRenderer(calib, 512, 512)
    open_img = renderer.render(FaceState(_with_openness(0.3, 0.0), np.ones(68, bool), timestamp_ns=0))
    shut_img = renderer.render(FaceState(_with_openness(0.05, 0.0), np.ones(68, bool), timestamp_ns=MS))
    radius = 3
    assert _eye_height(shut_img) == 2 * radius + 1  # all five dots on one row
    assert _eye_height(open_img) > 3 * radius


def test_renderer_survives_bad_points_and_loss() -> None:
    clock = iter(range(0, 10**12, 33 * MS))
    renderer = PoseRenderer(Calibration(), 256, 256, clock=lambda: next(clock))
    neutral = renderer.render(None)
    assert neutral.shape == (256, 256, 3) and neutral.any()
    points = NEUTRAL_FACE.copy()
    points[5] = np.nan
    points[10] = 1e30
    valid = np.ones(68, bool)
    valid[20] = False
    image = renderer.render(FaceState(points, valid, timestamp_ns=next(clock)))
    assert image.any()
    none_valid = FaceState(NEUTRAL_FACE.copy(), np.zeros(68, bool), timestamp_ns=next(clock))
    assert renderer.render(none_valid).any()
    last = renderer.last_points
    assert last is not None and np.isfinite(last).all()


def test_recenter_moves_the_face_to_the_framing_centre() -> None:
    calib = Calibration.exact().model_copy(update={"framing": Framing(center_x=0.4)})
    renderer = PoseRenderer(calib, 512, 512)
    off_centre = FaceState(_away(NEUTRAL_FACE, 0.12), np.ones(68, bool))
    renderer.recenter(off_centre)
    assert abs(renderer.calibration.framing.neutral_x - (NEUTRAL_FACE[:, 0].mean() + 0.12)) < 1e-9
    renderer.render(off_centre)
    last = renderer.last_points
    assert last is not None and abs(last[:, 0].mean() - 0.4) < 1e-9


def test_mirror_swaps_sides() -> None:
    """With framing.mirror a face on the image left renders on the right, eyes swapped to match."""
    base = Calibration.exact()
    mirrored = base.model_copy(update={"framing": base.framing.model_copy(update={"mirror": True})})
    face = FaceState(_away(NEUTRAL_FACE, -0.15), np.ones(68, bool))
    plain_img = PoseRenderer(base, 256, 256).render(face)
    mirror_img = PoseRenderer(mirrored, 256, 256).render(face)
    plain_x = np.nonzero(plain_img.any(axis=2))[1].mean()
    mirror_x = np.nonzero(mirror_img.any(axis=2))[1].mean()
    assert plain_x < 128 - 20 and mirror_x > 128 + 20
    right_eye = np.argwhere(np.all(mirror_img == (255, 128, 128), axis=2))[:, 1].mean()
    left_eye = np.argwhere(np.all(mirror_img == (128, 128, 255), axis=2))[:, 1].mean()
    assert right_eye < left_eye  # still the spec's layout: right-eye group on the image left
