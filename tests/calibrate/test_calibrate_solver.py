"""The framing/parameter solver: marks placed where a known calibration puts the dots are recovered."""

from __future__ import annotations

import numpy as np
import pytest

from rain_vtuber.calibrate import params
from rain_vtuber.calibrate.solver import ANCHORS, FaceFrame, measure
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.landmarks import Calibration

TRUTH = {
    "framing.center_x": 0.42,
    "framing.center_y": 0.38,
    "framing.scale": 0.7,
    "shape.face_length_ratio": 0.9,
    "shape.eye_distance_correction": 0.12,
    "shape.eye_vertical_correction": 0.02,
    "shape.mouth_vertical_correction": -0.05,
    "shape.nose_vertical_correction": 0.03,
}


def _fit(base: Calibration, target: FaceFrame, neutral: np.ndarray = NEUTRAL_FACE) -> dict[str, float]:
    return params.values(params.fit(base, target, neutral))


def test_recovers_a_known_calibration_from_its_marks() -> None:
    base = Calibration()
    truth = params.with_values(base, TRUTH)
    target = measure(params.output_points(truth, NEUTRAL_FACE))
    before = np.abs(measure(params.output_points(base, NEUTRAL_FACE)).vector() - target.vector()).max()

    solved = _fit(base, target)

    after = measure(params.output_points(params.with_values(base, solved), NEUTRAL_FACE))
    assert before > 0.05
    assert np.abs(after.vector() - target.vector()).max() < 2e-3
    for key, value in TRUTH.items():
        tolerance = 0.02 * (params.SPECS[key].high - params.SPECS[key].low)
        assert solved[key] == pytest.approx(value, abs=tolerance), key


def test_user_face_lands_on_the_marks() -> None:
    """A differently shaped (recorded) neutral face is fitted to the same marks."""
    rng = np.random.default_rng(0)
    user = NEUTRAL_FACE * [1.1, 0.95] + rng.normal(0, 0.003, NEUTRAL_FACE.shape)
    target = measure(params.output_points(params.with_values(Calibration(), TRUTH), NEUTRAL_FACE))
    solved = _fit(Calibration(), target, user)
    got = measure(params.output_points(params.with_values(Calibration(), solved), user))
    for name in ANCHORS:
        assert np.hypot(*np.subtract(got.anchors[name], target.anchors[name])) < 0.01, name


def test_unreachable_marks_stay_inside_the_ranges() -> None:
    target = FaceFrame(box=(0.0, 0.0, 1.0, 1.0), anchors={n: (0.5, 0.95) for n in ANCHORS})
    solved = _fit(Calibration(), target)
    for key in params.SOLVED:
        assert params.SPECS[key].low <= solved[key] <= params.SPECS[key].high
    params.with_values(Calibration(), {k: solved[k] for k in params.SOLVED})  # validates


def test_frame_json_round_trip_and_rejects_bad_input() -> None:
    frame = measure(params.output_points(Calibration(), NEUTRAL_FACE))
    assert FaceFrame.from_json(frame.to_json()) == frame
    bad = frame.to_json()
    for broken in (
        {**bad, "box": [0.5, 0.5, 0.4, 0.6]},
        {**bad, "box": [0.1, 0.1, float("nan"), 0.5]},
        {"box": bad["box"], "anchors": {"nose": [0.5, 0.5]}},
    ):
        with pytest.raises(ValueError):
            FaceFrame.from_json(broken)
