"""Named expressions: the model and character.yaml, the player's switching and fades, and the dots each one moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rain_vtuber.errors import RainError
from rain_vtuber.face.driver import FaceDriver
from rain_vtuber.face.expressions import BUILT_IN, DEFAULT_FADE_S, Expression, ExpressionPlayer, expression_set
from rain_vtuber.face.idle import IdleOptions
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks.characters import Character, load_character_meta
from rain_vtuber.landmarks.dots import group_centers
from tests.face.face_helpers import PERIOD_NS, T0, frame_time, rig_face

STILL_IDLE = IdleOptions(enabled=False, auto_blink="off")


def _weights(player: ExpressionPlayer, shape: str, frames: int, start: int = 0) -> list[float]:
    """The value the player sets for `shape` (over a tracked 0) at each of `frames` 30 fps frames."""
    return [player.overrides({}, frame_time(i)).get(shape, 0.0) for i in range(start, start + frames)]


def test_the_built_in_expressions_are_there() -> None:
    player = ExpressionPlayer()
    assert player.available() == ["angry", "eyes_closed", "smile", "surprised", "wink_left", "wink_right"]
    assert player.active() == []
    assert BUILT_IN["wink_left"].shapes == {"eyeBlinkLeft": 1.0}  # ARKit left: the character's own left eye
    assert all(e.fade_s == DEFAULT_FADE_S for e in BUILT_IN.values())


def test_unknown_names_are_errors_that_list_the_known_ones() -> None:
    player = ExpressionPlayer()
    for switch in (player.on, player.off, player.toggle):
        with pytest.raises(RainError, match="unknown expression 'wink'; known: angry, eyes_closed, smile"):
            switch("wink")


def test_an_expression_names_only_shapes_the_rig_knows() -> None:
    with pytest.raises(ValidationError, match="unknown blend shapes eyeBlinkL, jawOpne; the face rig knows"):
        Expression(shapes={"eyeBlinkL": 1.0, "jawOpne": 0.5, "jawOpen": 0.5})
    for bad in ({"shapes": {}}, {"shapes": {"jawOpen": 1.5}}, {"shapes": {"jawOpen": 1.0}, "fade_s": -0.1},
                {"shapes": {"jawOpen": 1.0}, "fade": 0.1}, {"shapes": {"jawOpen": "1"}}):
        with pytest.raises(ValidationError):
            Expression.model_validate(bad)


def test_character_yaml_adds_and_replaces_expressions(tmp_path: Path) -> None:
    meta_path = tmp_path / "character.yaml"
    meta_path.write_text(
        "name: Alice\n"
        "expressions:\n"
        "  pout: {shapes: {mouthPucker: 1, mouthFunnel: 0.4}, fade_s: 0.3}\n"
        "  smile: {shapes: {mouthSmileLeft: 0.6, mouthSmileRight: 0.6}}\n",
        encoding="utf-8",
    )
    character = Character("alice", tmp_path / "reference.png", tmp_path / "alice.yaml", meta_path)
    custom = load_character_meta(character).expressions
    assert custom["pout"] == Expression(shapes={"mouthPucker": 1.0, "mouthFunnel": 0.4}, fade_s=0.3)
    merged = expression_set(custom)
    assert sorted(merged) == sorted([*BUILT_IN, "pout"])
    assert merged["smile"].shapes == {"mouthSmileLeft": 0.6, "mouthSmileRight": 0.6}
    assert merged["smile"].fade_s == DEFAULT_FADE_S
    meta_path.write_text("name: Alice\nexpressions:\n  wink: {shapes: {eyeBlink_L: 1}}\n", encoding="utf-8")
    with pytest.raises(RainError, match=r"character\.yaml.*unknown blend shapes eyeBlink_L"):
        load_character_meta(character)
    meta_path.write_text("name: Alice\nexpressions:\n  'two words': {shapes: {jawOpen: 1}}\n", encoding="utf-8")
    with pytest.raises(RainError, match="two words"):
        load_character_meta(character)


def test_an_expression_fades_in_and_out_smoothly_over_its_fade_time() -> None:
    player = ExpressionPlayer({"open": Expression(shapes={"jawOpen": 1.0}, fade_s=0.2)})
    player.on("open")
    assert player.active() == ["open"]
    rising = _weights(player, "jawOpen", 10)
    # the first frame starts the fade; 0.2 s later (6 frames of 33.33 ms, a few ns short) it is in
    assert rising[0] == 0.0 and rising[6] == pytest.approx(1.0) and rising[7:] == [1.0] * 3
    steps = np.diff(rising[:7])
    assert (steps > 0).all() and steps.max() < 0.3  # smoothstep: slow, faster, slow again
    assert rising[3] == pytest.approx(0.5, abs=1e-7)  # half the time, half the way
    player.off("open")
    assert player.active() == []
    falling = _weights(player, "jawOpen", 8, start=10)
    assert falling[0] == 1.0 and falling[6] == pytest.approx(0.0) and falling[7] == 0.0
    assert rising[:7] == pytest.approx(falling[6::-1])
    assert player.overrides({}, frame_time(20)) == {}  # faded out and forgotten


def test_toggle_and_clear() -> None:
    player = ExpressionPlayer()
    assert player.toggle("smile") is True and player.active() == ["smile"]
    player.on("wink_left")
    player.on("smile")  # already on: stays where it is in the order
    assert player.active() == ["smile", "wink_left"]
    assert player.toggle("smile") is False and player.active() == ["wink_left"]
    player.clear()
    assert player.active() == []


def test_a_later_expression_wins_where_two_set_the_same_shape() -> None:
    player = ExpressionPlayer({
        "closed": Expression(shapes={"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}, fade_s=0.0),
        "open_left": Expression(shapes={"eyeBlinkLeft": 0.0}, fade_s=0.0),
    })
    player.on("closed")
    player.on("open_left")
    assert player.overrides({"eyeBlinkLeft": 0.3}, T0) == {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 1.0}
    player.off("open_left")
    assert player.overrides({"eyeBlinkLeft": 0.3}, T0 + PERIOD_NS) == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}
    player.on("open_left")  # switched on again: on top again
    player.off("closed")
    player.on("closed")
    assert player.overrides({}, T0 + 2 * PERIOD_NS) == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}


def test_a_character_switch_fades_out_expressions_the_new_character_lacks() -> None:
    pout = Expression(shapes={"mouthPucker": 1.0}, fade_s=0.1)
    player = ExpressionPlayer(expression_set({"pout": pout}))
    player.on("pout")
    player.on("smile")
    player.overrides({}, T0)
    player.overrides({}, T0 + 200_000_000)
    player.set_expressions(BUILT_IN)
    assert player.available() == sorted(BUILT_IN) and player.active() == ["smile"]
    assert player.overrides({}, T0 + 250_000_000)["mouthPucker"] == 1.0  # the fade starts with the next face
    halfway = player.overrides({}, T0 + 300_000_000)
    assert halfway["mouthPucker"] == pytest.approx(0.5) and halfway["mouthSmileLeft"] == 1.0
    assert "mouthPucker" not in player.overrides({}, T0 + 350_000_000)
    with pytest.raises(RainError, match="unknown expression 'pout'"):
        player.on("pout")


def test_a_wink_keeps_the_other_eye_tracked() -> None:
    driver = FaceDriver(idle=STILL_IDLE)
    driver.expressions.on("wink_left")
    for i in range(12):
        tracked = rig_face({"eyeBlinkLeft": 0.0, "eyeBlinkRight": i / 11, "jawOpen": 0.2}, t_ns=frame_time(i))
        driven = driver.drive(tracked, frame_time(i))
        assert driven.expressions["eyeBlinkRight"] == i / 11 and driven.expressions["jawOpen"] == 0.2
    assert driven.expressions["eyeBlinkLeft"] == 1.0
    assert driver.status()["expressions"] == ["wink_left"]


# Dots (0-based, spec group - 1) each expression may move; every other dot must not move at all.
JAW, CHIN = [1, 2, 3], [2]
BROWS, INNER_LIPS, LIP_CORNERS = list(range(5, 11)), [11, 12, 13, 14], [11, 13]
RIGHT_EYE, LEFT_EYE = list(range(16, 21)), list(range(21, 26))
MAY_MOVE = {
    "wink_left": LEFT_EYE,
    "wink_right": RIGHT_EYE,
    "eyes_closed": RIGHT_EYE + LEFT_EYE,
    "surprised": BROWS + RIGHT_EYE + LEFT_EYE + INNER_LIPS + JAW,
    "smile": INNER_LIPS + RIGHT_EYE + LEFT_EYE,
    "angry": BROWS + INNER_LIPS,
}
# ... and the dots that must visibly move (more than 0.5% of the face height): upper lids, brows, lips, chin
MUST_MOVE = {
    "wink_left": [22],
    "wink_right": [17],
    "eyes_closed": [17, 22],
    "surprised": [6, 9, 14] + CHIN,
    "smile": LIP_CORNERS,
    "angry": [6, 9] + LIP_CORNERS,
}


def _dot_moves(face: FaceState, name: str) -> np.ndarray:
    """How far each of the 26 dots moves (tracked frame, in face heights) once `name` has faded in."""
    driver = FaceDriver(idle=STILL_IDLE)
    driver.expressions.on(name)
    for i in range(10):
        driven = driver.drive(face, frame_time(i))
    height = float(np.linalg.norm(face.points[8] - face.points[27]))
    return np.linalg.norm(group_centers(driven.points) - group_centers(face.points), axis=1) / height


def _check_dots(face: FaceState, name: str) -> None:
    moved = _dot_moves(face, name)
    still = np.setdiff1d(np.arange(26), MAY_MOVE[name])
    assert moved[still].max() == 0.0, f"{name} moved dots {still[moved[still] > 0] + 1}"
    assert (moved[MUST_MOVE[name]] > 0.005).all(), f"{name}: {dict(zip(MUST_MOVE[name], moved[MUST_MOVE[name]]))}"


@pytest.mark.parametrize("name", sorted(MAY_MOVE))
def test_each_expression_moves_its_dots_and_only_those_on_a_rig_face(name: str) -> None:
    _check_dots(rig_face({"eyeBlinkLeft": 0.1, "eyeBlinkRight": 0.1, "jawOpen": 0.05}, rotation=(3.0, -8.0, 2.0),
                         translation_m=(0.01, 0.0, 0.0)), name)


@pytest.mark.parametrize("name", sorted(MAY_MOVE))
def test_each_expression_moves_its_dots_and_only_those_on_a_mediapipe_face(astronaut_face: FaceState,
                                                                           name: str) -> None:
    _check_dots(astronaut_face, name)


def test_left_is_the_characters_own_left_drawn_on_the_image_right(astronaut_face: FaceState) -> None:
    nose_x = astronaut_face.points[30, 0]
    left = _dot_moves(astronaut_face, "wink_left")
    moved = np.nonzero(left)[0]
    assert (group_centers(astronaut_face.points)[moved, 0] > nose_x).all()
    right = _dot_moves(astronaut_face, "wink_right")
    assert (group_centers(astronaut_face.points)[np.nonzero(right)[0], 0] < nose_x).all()
