"""Idle life through the real renderer (512x512, default calibration, auto-fit): blinks, every dot alive,
no jumps on loss and re-acquire, the idle face on the character's face, auto-blink, reproducibility."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from rain_vtuber.face.driver import FaceDriver
from rain_vtuber.face.idle import IdleMotion, IdleOptions
from rain_vtuber.face.openness import eye_openness
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer, load_calibration
from rain_vtuber.landmarks.autofit import FaceFit, measure
from rain_vtuber.landmarks.calibration import Framing
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.paths import character_folders
from rain_vtuber.landmarks.render import character_neutral
from tests.face.face_helpers import EYE_DOTS, FPS, SIZE, Frame, frame_time, max_step, rig_face, run

REPO = Path(__file__).resolve().parents[2]
NON_EYE_DOTS = np.setdiff1d(np.arange(26), EYE_DOTS)
OPEN_EYES = {"eyeBlinkLeft": 0.05, "eyeBlinkRight": 0.05}
NO_BLINKS = IdleOptions(blink_min_s=60.0, blink_max_s=60.0)
STILL = IdleOptions(blink_min_s=60.0, blink_max_s=60.0, breath_deg=0.0, sway_deg=0.0)


def _user(index: int, t_ns: int, lean_from_s: float = math.inf) -> FaceState:
    """A VMC-like user: open eyes, a small slow head motion; from lean_from_s leans 4 cm aside over 1.5 s."""
    s = index / FPS
    lean = 0.04 * min(max((s - lean_from_s) / 1.5, 0.0), 1.0)
    return rig_face({**OPEN_EYES, "jawOpen": 0.05}, rotation=(1.5 * math.sin(0.7 * s), 3.0 * math.sin(0.4 * s), 0.0),
                    translation_m=(lean, 0.3 * lean, 0.0), t_ns=t_ns)


def _setup(options: IdleOptions, seed: int = 7, calib: Calibration | None = None) -> tuple[FaceDriver, PoseRenderer]:
    renderer = PoseRenderer(calib or Calibration(), SIZE, SIZE, clock=lambda: 0)
    return FaceDriver(idle=options, place=renderer.place_neutral, rng=np.random.default_rng(seed)), renderer


def _blink_starts(frames: list[Frame]) -> list[int]:
    """Frame indices where the drawn face's eyes close (rendered eye openness drops below 0.05)."""
    starts, closed = [], False
    for frame in frames:
        now = max(eye_openness(frame.face.points)) < 0.05
        if now and not closed:
            starts.append(frame.index)
        closed = now
    return starts


def test_options_are_strict_and_checked() -> None:
    with pytest.raises(ValidationError, match=r"blink_max_s \(1.0\) must be at least blink_min_s \(2.0\)"):
        IdleOptions(blink_min_s=2.0, blink_max_s=1.0)
    for bad in ({"enable": True}, {"enabled": "yes"}, {"blink_s": 0.0}, {"auto_blink": "sometimes"},
                {"lost_fade_s": -1.0}):
        with pytest.raises(ValidationError):
            IdleOptions.model_validate(bad)
    assert IdleOptions.model_validate({"blink_min_s": 3, "auto_blink": "on"}).blink_min_s == 3.0


def test_sixty_seconds_without_a_face_keep_the_character_alive() -> None:
    options = IdleOptions()
    driver, renderer = _setup(options)
    lost_from, back_at, end = 3 * FPS, 63 * FPS, 66 * FPS
    frames = run(driver, renderer, lost_from, _user)
    fitted = renderer.fit
    assert fitted is not None  # learnt from the user's first steady second
    frames += run(driver, renderer, end - lost_from, lambda i, t: _user(i, t) if i >= back_at else None,
                  start=lost_from)
    assert all(f.face is not None for f in frames)  # the renderer's loss easing never sees None
    assert renderer.fit is fitted

    lost = frames[lost_from:back_at]
    starts = _blink_starts(lost)
    low = math.floor(60 / (options.blink_max_s + options.blink_s))
    assert low <= len(starts) <= math.ceil(60 / options.blink_min_s), len(starts)
    gaps = np.diff(starts) / FPS
    assert gaps.min() >= options.blink_min_s - 1 / FPS and gaps.max() <= options.blink_max_s + options.blink_s + 1 / FPS
    assert len(set(np.round(gaps, 1))) > len(gaps) // 2  # random intervals, not a metronome
    closed_frames = sum(max(eye_openness(f.face.points)) < 0.05 for f in lost)
    assert len(starts) <= closed_frames <= len(starts) * math.ceil(options.blink_s * FPS)  # each blink ~150 ms

    spread = np.ptp(np.stack([f.dots for f in lost[FPS:]]), axis=0).max(axis=1)
    assert (spread >= 2.0).all(), f"dots that do not move: {np.nonzero(spread < 2.0)[0] + 1}"
    # breathing and sway never jump; blinks move the eye dots as fast as real blinks do
    assert max_step(frames[2 * FPS:], NON_EYE_DOTS) <= 2.0


def test_losing_and_finding_the_face_cross_fades_without_a_jump() -> None:
    """The user leans 4 cm aside and is lost there; idle life glides back onto the character's face;
    the user is found again where they were lost, far from it."""
    driver, renderer = _setup(NO_BLINKS)
    lost_from, back_at = 5 * FPS, 12 * FPS
    frames = run(driver, renderer, 17 * FPS,
                 lambda i, t: _user(i, t, lean_from_s=2.5) if not lost_from <= i < back_at else None)
    for start in (lost_from, back_at):
        window = frames[start - 2:start + 4 * FPS]
        travel = np.abs(window[-1].dots - window[0].dots).max()
        assert travel >= 40.0  # far: the idle face sits on the character's face, the user 4 cm aside
        assert max_step(window) <= 3.0, max_step(window)
    assert driver.status()["tracking"] and not driver.status()["idle"]
    assert not any(f.face.synthetic for f in frames[back_at + 4 * FPS:])


def test_a_quick_loss_cross_fades_within_half_a_second() -> None:
    """Lost where the idle face sits (the user's neutral place): the look fades over lost_fade_s only."""
    driver, renderer = _setup(STILL)
    face = rig_face(OPEN_EYES, rotation=(0.0, 12.0, 4.0))
    frames = run(driver, renderer, 6 * FPS, lambda i, t: dataclasses.replace(face, timestamp_ns=t) if i < 3 * FPS
                 else None)
    statuses = [f.face.rotation for f in frames[3 * FPS:]]
    assert statuses[int(0.5 * FPS)] == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)  # idle's level head after 0.5 s
    assert statuses[int(0.25 * FPS)][1] == pytest.approx(6.0, abs=1.0)
    assert max_step(frames[3 * FPS - 2:]) <= 3.0


def test_before_any_face_the_idle_face_sits_on_the_characters_face() -> None:
    default = CharacterLibrary(character_folders(REPO / "characters", REPO / "calibration")).find("default")
    driver, renderer = _setup(STILL, calib=load_calibration(default.calibration_path))
    frames = run(driver, renderer, 3 * FPS, lambda i, t: None)
    assert renderer.fit is None  # auto-fit never learns from idle faces
    image = np.asarray(Image.open(default.image_path).convert("RGB")).astype(int)
    pose = renderer.render(driver.drive(None, frame_time(3 * FPS)))
    eye_mask = np.all(pose == (255, 128, 128), axis=2) | np.all(pose == (128, 128, 255), axis=2)
    under = image[np.nonzero(eye_mask)]
    assert np.mean(np.abs(under - [253, 228, 214]).sum(axis=1) > 60) > 0.6  # on the drawn eyes, not on skin
    assert frames[-1].face.synthetic and frames[-1].face.timestamp_ns == frame_time(3 * FPS - 1)
    # then the user appears, sitting a little aside: the renderer fits on the user's face, not the idle one
    user = rig_face(OPEN_EYES, translation_m=(0.03, 0.02, 0.05))
    run(driver, renderer, 5 * FPS, lambda i, t: dataclasses.replace(user, timestamp_ns=t), start=3 * FPS)
    expected = FaceFit.of(user.points)
    assert renderer.fit is not None and renderer.fit.size == pytest.approx(expected.size, rel=1e-9)
    np.testing.assert_allclose(renderer.fit.centre, expected.centre, atol=1e-12)


@pytest.mark.parametrize("framing", [
    Framing(center_x=0.42, center_y=0.55, scale=1.3, auto_fit=False),
    Framing(center_x=0.6, center_y=0.45, scale=0.8, neutral_x=0.3, neutral_y=0.6, neutral_size=0.08, mirror=True,
            auto_fit=False),
])
def test_the_idle_face_is_drawn_where_the_characters_neutral_face_is(framing: Framing) -> None:
    driver, renderer = _setup(STILL, calib=Calibration(framing=framing))
    run(driver, renderer, FPS, lambda i, t: None)
    drawn, neutral = measure(renderer.last_points), measure(character_neutral(framing))
    np.testing.assert_allclose(drawn[0], neutral[0], atol=1e-12)
    assert drawn[1] == pytest.approx(neutral[1], rel=0.03)  # the same size (the eyes are normalised after)


def test_idle_life_is_exact_for_a_seed() -> None:
    def blinks(seed: int) -> list[int]:
        driver = FaceDriver(rng=np.random.default_rng(seed))
        faces = [driver.drive(None, frame_time(i)) for i in range(20 * FPS)]
        return _blink_starts([Frame(i, False, face, np.zeros((26, 2))) for i, face in enumerate(faces)])

    first = blinks(3)
    assert first == blinks(3) and first != blinks(4)


def test_a_blink_closes_fast_and_opens_slower() -> None:
    motion = IdleMotion(IdleOptions(blink_min_s=1.0, blink_max_s=1.0, blink_s=0.2), np.random.default_rng(0))
    ms = 1_000_000
    closure = [motion.blink(i * ms) for i in range(0, 1400)]
    start = next(i for i, c in enumerate(closure) if c > 0)
    assert start == 1001  # 1 s after the first call (the curve is 0 exactly at its start)
    assert closure[1080] == 1.0  # shut 40% into the blink
    assert closure[1199] == pytest.approx(0.0, abs=1e-3) and closure[1200:] == [0.0] * 200
    assert closure[1040] == pytest.approx(0.5) and closure[1140] == pytest.approx(0.5)


@pytest.mark.parametrize(("mode", "shapes", "blinks"), [
    ("auto", {"jawOpen": 0.1}, True),  # a sender without blink shapes: blink for it
    ("auto", {"jawOpen": 0.1, **OPEN_EYES}, False),  # it blinks by itself
    ("off", {"jawOpen": 0.1}, False),
    ("on", {"jawOpen": 0.1, **OPEN_EYES}, True),  # blink shapes that never move
])
def test_auto_blink_blinks_tracked_faces_that_never_do(mode: str, shapes: dict[str, float], blinks: bool) -> None:
    driver, renderer = _setup(IdleOptions(auto_blink=mode))
    frames = run(driver, renderer, 20 * FPS, lambda i, t: rig_face(shapes, t_ns=t))[FPS:]
    starts = _blink_starts(frames)
    assert (len(starts) >= 3) is blinks and (len(starts) == 0) is not blinks
    assert driver.status()["auto_blink"] is blinks and driver.status()["tracking"]
    assert not any(f.face.synthetic for f in frames)  # still the tracked face, with its own timestamps
    assert frames[-1].face.timestamp_ns == frame_time(20 * FPS - 1)


def test_blink_shapes_are_looked_for_per_source() -> None:
    driver, renderer = _setup(IdleOptions())
    blinking = run(driver, renderer, 10 * FPS, lambda i, t: rig_face(OPEN_EYES, t_ns=t, source="webcam:0"))
    assert _blink_starts(blinking[FPS:]) == []
    head_only = run(driver, renderer, 10 * FPS, lambda i, t: rig_face({}, t_ns=t, source="vmc:39539"),
                    start=10 * FPS)
    assert len(_blink_starts(head_only)) >= 1


def test_with_idle_off_a_lost_face_stays_lost() -> None:
    driver = FaceDriver(idle=IdleOptions(enabled=False, auto_blink="off"))
    assert driver.drive(None, frame_time(0)) is None
    face = rig_face(OPEN_EYES, t_ns=frame_time(1))
    assert driver.drive(face, frame_time(1)) is face  # nothing to do: the very same face
    assert driver.drive(None, frame_time(2)) is None
    assert driver.status() == {"tracking": False, "idle": False, "audio": False, "auto_blink": False,
                               "expressions": []}


def test_turning_idle_off_while_idle_hands_the_loss_back_to_the_renderer() -> None:
    driver = FaceDriver(idle=IdleOptions(), rng=np.random.default_rng(0))
    assert driver.drive(None, frame_time(0)).synthetic
    driver.set_idle(IdleOptions(enabled=False))
    assert driver.drive(None, frame_time(1)) is None
    driver.set_idle(IdleOptions())
    face = driver.drive(None, frame_time(2))
    assert face is not None and face.synthetic and face.timestamp_ns == frame_time(2)


def test_the_idle_face_without_a_placement_is_the_rigs_neutral_face() -> None:
    driver = FaceDriver(idle=STILL, rng=np.random.default_rng(0))
    face = driver.drive(None, frame_time(0))
    np.testing.assert_allclose(face.points, rig_face().points, atol=1e-15)
    assert face.expressions == {} and face.rotation == (0.0, 0.0, 0.0) and face.source == "idle" and face.synthetic
