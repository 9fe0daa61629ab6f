"""FaceDriver: the audio mouth's modes with a synthetic Mouth sequence, the order of the layers, status."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rain_vtuber.face.driver import FaceDriver
from rain_vtuber.face.idle import IdleOptions
from rain_vtuber.face.mouth import MOUTH_SHAPES, Mouth
from rain_vtuber.face.openness import mouth_openness
from rain_vtuber.face.state import FaceState
from tests.face.face_helpers import FPS, frame_time, rig_face

QUIET = IdleOptions(blink_min_s=60.0, blink_max_s=60.0, breath_deg=0.0, sway_deg=0.0, auto_blink="off")
NO_IDLE = IdleOptions(enabled=False, auto_blink="off")
WARM = 2 * FPS
"""Frames of tracking first: with idle life on, the first face fades in from the idle face."""
SPEECH = [Mouth(open=0.5 + 0.5 * np.sin(i / 3.0), wide=0.3 * (i % 2), round=0.4 * ((i + 1) % 2)) for i in range(12)]
"""A synthetic syllable sequence: the jaw opening and closing, vowels alternating spread and round."""


def _speak(driver: FaceDriver, face: FaceState | None, mouths: list[Mouth | None], start: int = 0) -> list[FaceState]:
    return [driver.drive(face if face is None else _at(face, start + i), frame_time(start + i), m)
            for i, m in enumerate(mouths)]


def _at(face: FaceState, index: int) -> FaceState:
    return dataclasses.replace(face, timestamp_ns=frame_time(index))


def _mouth_of(face: FaceState) -> dict[str, float]:
    return {name: face.expressions.get(name, 0.0) for name in MOUTH_SHAPES}


def test_audio_always_replaces_the_tracked_mouth(astronaut_face: FaceState) -> None:
    driver = FaceDriver(idle=NO_IDLE, audio_mode="always")
    driven = _speak(driver, astronaut_face, SPEECH)
    for face, mouth in zip(driven, SPEECH):
        assert _mouth_of(face) == pytest.approx(mouth.blend_shapes())
        assert face.expressions["mouthSmileLeft"] == astronaut_face.expressions["mouthSmileLeft"]  # not a mouth shape
    openness = [mouth_openness(f.points) for f in driven]
    assert np.corrcoef(openness, [m.open for m in SPEECH])[0, 1] > 0.9  # the lips follow the sound
    np.testing.assert_array_equal(driven[0].points[17:48], astronaut_face.points[17:48])  # brows, nose, eyes stay
    assert driver.status()["audio"] is True and driver.status()["tracking"] is True


def test_audio_blend_takes_the_larger_mouth() -> None:
    driver = FaceDriver(idle=NO_IDLE, audio_mode="blend")
    tracked = rig_face({"jawOpen": 0.3, "mouthFunnel": 0.2})
    quiet, loud = driver.drive(tracked, frame_time(0), Mouth(0.1)), driver.drive(tracked, frame_time(1), Mouth(0.8))
    assert quiet.expressions["jawOpen"] == 0.3 and loud.expressions["jawOpen"] == 0.8
    assert quiet.expressions["mouthFunnel"] == 0.2 and loud.expressions["mouthFunnel"] == 0.2
    assert mouth_openness(loud.points) > mouth_openness(quiet.points) + 0.2


def test_audio_off_or_silent_leaves_the_tracked_mouth() -> None:
    tracked = rig_face({"jawOpen": 0.3})
    for mode, mouth in (("off", Mouth(0.9)), ("always", None), ("blend", None), ("when_lost", None)):
        driver = FaceDriver(idle=NO_IDLE, audio_mode=mode)
        assert driver.drive(tracked, frame_time(0), mouth) is tracked
        assert driver.status()["audio"] is False


def test_audio_when_lost_speaks_only_without_a_tracked_mouth(astronaut_face: FaceState) -> None:
    driver = FaceDriver(idle=QUIET, audio_mode="when_lost")
    tracked = _speak(driver, astronaut_face, [Mouth(0.7)] * WARM)[-FPS:]
    assert all(_mouth_of(f) == _mouth_of(astronaut_face) for f in tracked)
    assert driver.status()["audio"] is False
    lost = _speak(driver, None, SPEECH * 3, start=WARM)
    # the audio mouth fades in with idle life (0.5 s), then drives the mouth alone
    assert lost[0].expressions["jawOpen"] == pytest.approx(astronaut_face.expressions["jawOpen"], abs=1e-9)
    for face, mouth in list(zip(lost, SPEECH * 3))[FPS // 2 + 1:]:
        assert _mouth_of(face) == pytest.approx(mouth.blend_shapes())
    assert driver.status() == {"tracking": False, "idle": True, "audio": True, "auto_blink": False,
                               "expressions": []}


def test_audio_when_lost_speaks_for_a_source_without_mouth_shapes() -> None:
    """A VMC sender that sends head and blinks only: the microphone moves the mouth while it tracks."""
    driver = FaceDriver(idle=QUIET, audio_mode="when_lost")
    head_only = rig_face({"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0}, rotation=(0.0, 8.0, 0.0))
    driven = _speak(driver, head_only, [None] * WARM + SPEECH)[WARM:]
    for face, mouth in zip(driven, SPEECH):
        assert _mouth_of(face) == pytest.approx(mouth.blend_shapes()) and face.rotation == (0.0, 8.0, 0.0)
    assert not driven[-1].synthetic and driver.status()["audio"] and driver.status()["tracking"]


def test_expressions_override_the_audio_mouth_and_blinks_close_over_expressions() -> None:
    driver = FaceDriver(idle=IdleOptions(enabled=False, blink_min_s=0.5, blink_max_s=0.5, auto_blink="on"),
                        audio_mode="always", rng=np.random.default_rng(0))
    driver.expressions.on("surprised")
    tracked = rig_face({"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0, "jawOpen": 0.1})
    driven = _speak(driver, tracked, [Mouth(0.9)] * FPS)
    assert driven[-1].expressions["eyeWideLeft"] == 1.0
    opened = [f.expressions["jawOpen"] for f in driven]
    assert opened[0] == 0.9 and opened[-1] == pytest.approx(0.35)  # surprised's jawOpen wins once faded in
    closures = [f.expressions["eyeBlinkLeft"] for f in driven]
    assert max(closures) >= 0.85 and closures[-1] == 0.0  # an auto-blink, over the surprised eyes


def test_status_names_what_drives_the_face() -> None:
    driver = FaceDriver(idle=QUIET)
    assert driver.status() == {"tracking": False, "idle": False, "audio": False, "auto_blink": False,
                               "expressions": []}
    driver.drive(None, frame_time(0), Mouth(0.4))
    assert driver.status() == {"tracking": False, "idle": True, "audio": True, "auto_blink": False,
                               "expressions": []}
    driver.expressions.on("smile")
    tracked = rig_face({"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0, "jawOpen": 0.0})
    _speak(driver, tracked, [Mouth(0.4)] * FPS, start=1)
    assert driver.status() == {"tracking": True, "idle": False, "audio": False, "auto_blink": False,
                               "expressions": ["smile"]}


def test_an_unknown_audio_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="audio mode must be one of off, when_lost, blend, always, got 'loud'"):
        FaceDriver(audio_mode="loud")  # type: ignore[arg-type]
    driver = FaceDriver(idle=NO_IDLE)
    with pytest.raises(ValueError, match="got 'sometimes'"):
        driver.set_audio_mode("sometimes")  # type: ignore[arg-type]
    driver.set_audio_mode("always")
    assert driver.drive(rig_face(), frame_time(0), Mouth(0.5)).expressions["jawOpen"] == 0.5
