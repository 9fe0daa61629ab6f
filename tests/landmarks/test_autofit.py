"""Auto-fit on rig faces: any distance and position lands on the default character's drawn eyes, once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rain_vtuber.face import rig
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer, load_calibration
from rain_vtuber.landmarks.autofit import REFERENCE_SIZE, FaceFit, SteadyFit, framing_scale, measure
from rain_vtuber.landmarks.calibration import Framing
from tests.landmarks.drawn_face import SIZE, drawn_eyes, eye_dots

DEFAULT = load_calibration(Path(__file__).resolve().parents[2] / "calibration" / "default.yaml")
FRAME_NS = 33_333_333  # 30 fps
# Head offsets (metres: x right, y down, z away from the camera) a streamer might sit at.
SEATS = {
    "as framed": (0.0, 0.0, 0.0),
    "far, high, right": (0.08, -0.08, 0.35),
    "close, low": (0.0, 0.04, -0.18),
    "far left": (-0.12, 0.02, 0.6),
}


def _face(seat: tuple[float, float, float], t_ns: int, jitter: float = 0.0, seed: int = 0,
          rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> FaceState:
    """A webcam-like face from the rig at a seat, with tracker jitter (normalised units)."""
    points = rig.project(rig.deform({}), rotation, seat)
    points = points + np.random.default_rng(seed).normal(0.0, jitter, points.shape)
    return FaceState(points, np.ones(68, bool), rotation=rotation, timestamp_ns=t_ns)


def _sit(renderer: PoseRenderer, seat: tuple[float, float, float], seconds: float,
         start_ns: int = 0, jitter: float = 0.001) -> np.ndarray:
    """Sit still at a seat for a while (30 fps, tracker jitter); the last pose image."""
    image = np.zeros(0)
    for i in range(round(seconds * 30)):
        t_ns = start_ns + i * FRAME_NS
        image = renderer.render(_face(seat, t_ns, jitter, seed=i))
    return image


def _eye_distance(eyes: np.ndarray) -> float:
    return float(np.linalg.norm(eyes[1] - eyes[0]))


@pytest.mark.parametrize("seat", SEATS.values(), ids=SEATS.keys())
def test_first_steady_second_lands_the_eyes_on_the_drawn_eyes(seat: tuple[float, float, float]) -> None:
    renderer = PoseRenderer(DEFAULT, SIZE, SIZE)
    _sit(renderer, seat, 0.5)
    assert renderer.fit is None, "no fit before a full steady second"
    image = _sit(renderer, seat, 2.0, start_ns=15 * FRAME_NS)
    assert renderer.fit is not None
    eyes, drawn = eye_dots(image), drawn_eyes()
    assert np.abs(eyes - drawn).max() < 15, (eyes, drawn)
    assert abs(_eye_distance(eyes) / _eye_distance(drawn) - 1) < 0.1
    framing = renderer.calibration.framing
    assert framing.neutral_size == pytest.approx(renderer.fit.size) and framing.auto_fit


def test_without_the_fit_a_far_face_misses_the_drawn_eyes() -> None:
    """The failure auto-fit exists for: the same far, high face with auto_fit off stays small and off."""
    off = DEFAULT.model_copy(update={"framing": DEFAULT.framing.model_copy(update={"auto_fit": False})})
    renderer = PoseRenderer(off, SIZE, SIZE)
    eyes = eye_dots(_sit(renderer, SEATS["far, high, right"], 2.0))
    assert renderer.fit is None and renderer.calibration == off
    assert np.abs(eyes - drawn_eyes()).max() > 50
    assert _eye_distance(eyes) < 0.7 * _eye_distance(drawn_eyes())


def test_moving_closer_after_the_fit_still_grows_the_face() -> None:
    renderer = PoseRenderer(DEFAULT, SIZE, SIZE)
    _sit(renderer, SEATS["as framed"], 1.5)
    fit = renderer.fit
    assert fit is not None
    at_fit = _eye_distance(eye_dots(_sit(renderer, SEATS["as framed"], 0.5, start_ns=10**11)))
    closer = _eye_distance(eye_dots(_sit(renderer, (0.0, 0.0, -0.1), 1.5, start_ns=2 * 10**11)))
    expected = measure(rig.project(rig.deform({}), (0, 0, 0), (0.0, 0.0, -0.1)))[1] / fit.size  # type: ignore[index]
    assert renderer.fit == fit, "the fit is learnt once, not renewed"
    assert closer / at_fit == pytest.approx(expected, rel=0.05) and expected > 1.2


def test_motion_turning_and_lost_points_postpone_the_fit() -> None:
    steady = SteadyFit()
    sway = [_face((0.03 * np.sin(i / 3), 0.0, 0.0), i * FRAME_NS) for i in range(60)]
    assert all(steady.observe(f.points, f.valid, f.timestamp_ns) is None for f in sway), "swaying is not steady"
    turned = [_face((0.0, 0.0, 0.0), (60 + i) * FRAME_NS, rotation=(0.0, 40.0, 0.0)) for i in range(60)]
    assert all(steady.observe(f.points, f.valid, f.timestamp_ns, f.rotation) is None for f in turned)
    fits = []
    for i in range(120, 200):
        face = _face((0.0, 0.0, 0.0), i * FRAME_NS, jitter=0.001, seed=i)
        valid = face.valid.copy()
        if i == 140:
            valid[36] = False  # an eye corner missing restarts the second
        fits.append((i, steady.observe(face.points, valid, face.timestamp_ns)))
    done = [i for i, fit in fits if fit is not None]
    assert len(done) == 1, "exactly one fit"
    assert 1.0 <= (done[0] - 141) * FRAME_NS / 1e9 < 1.0 + 2 / 30, "one second after the last interruption"
    assert steady.observe(sway[0].points, sway[0].valid, 10**12) is None, "only the first steady second"


def test_repeats_of_one_face_do_not_make_a_steady_second() -> None:
    """A daemon samples a stalled source's last face again and again: that is not a second of tracking."""
    steady = SteadyFit()
    face = _face((0.0, 0.0, 0.0), 0)
    assert all(steady.observe(face.points, face.valid, face.timestamp_ns) is None for _ in range(100))


def test_recenter_redoes_position_and_size_and_a_switch_keeps_the_fit() -> None:
    renderer = PoseRenderer(DEFAULT, SIZE, SIZE)
    _sit(renderer, SEATS["as framed"], 1.5)
    first = renderer.fit
    moved = _face(SEATS["far left"], 10**11)
    assert renderer.recenter(moved)
    assert renderer.fit != first and renderer.fit == FaceFit.of(moved.points)
    eyes = eye_dots(_sit(renderer, SEATS["far left"], 1.0, start_ns=2 * 10**11))
    assert np.abs(eyes - drawn_eyes()).max() < 15
    # Another character framed further left: the user's fit carries over, the character's framing applies.
    other = DEFAULT.model_copy(update={"framing": DEFAULT.framing.model_copy(update={"center_x": 0.4})})
    renderer.set_calibration(other)
    eyes_other = eye_dots(_sit(renderer, SEATS["far left"], 1.0, start_ns=3 * 10**11))
    np.testing.assert_allclose(eyes_other - eyes, [[-0.1 * SIZE, 0.0]] * 2, atol=2.0)
    assert not renderer.recenter(None) and not renderer.recenter(FaceState(moved.points, np.zeros(68, bool)))


def test_auto_fit_off_recenters_position_only() -> None:
    off = Calibration(framing=Framing(auto_fit=False, scale=1.2))
    renderer = PoseRenderer(off, SIZE, SIZE)
    face = _face(SEATS["far, high, right"], 0)
    assert renderer.recenter(face)
    framing = renderer.calibration.framing
    assert renderer.fit is None and framing.neutral_size is None and framing_scale(framing) == 1.2
    assert (framing.neutral_x, framing.neutral_y) != (off.framing.neutral_x, off.framing.neutral_y)


def test_rig_sources_fit_idempotently() -> None:
    """VMC / iFacialMocap faces come from the rig: fitting the same head pose again changes nothing."""
    face = rig.face_from_blend_shapes({"jawOpen": 0.0}, (0.0, 0.0, 0.0), None, (0.0, 0.0, 0.0), "vmc")
    fit = FaceFit.of(face.points, face.valid)
    assert fit is not None
    once = fit.framing(DEFAULT.framing)
    assert fit.framing(once) == once
    assert framing_scale(once) == pytest.approx(REFERENCE_SIZE / fit.size)
    assert 0.8 < framing_scale(once) < 1.25, "a rig face is already about the drawn face's size"


def test_mirrored_framing_fits_the_mirrored_face() -> None:
    mirrored = DEFAULT.model_copy(update={"framing": DEFAULT.framing.model_copy(update={"mirror": True})})
    renderer = PoseRenderer(mirrored, SIZE, SIZE)
    eyes = eye_dots(_sit(renderer, SEATS["far, high, right"], 2.0))
    assert renderer.fit is not None and renderer.fit.centre[0] < 0.5  # seen in a mirror: on the left
    assert np.abs(eyes - drawn_eyes()).max() < 15
