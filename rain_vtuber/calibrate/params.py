"""The tunable calibration values as flat "section.field" keys, with the model's ranges.

The page's sliders, the solver's unknowns and the CLI's framing flags all name values this way, and
every range comes from the Calibration model itself, so the UI can never offer a value that the
loader would reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import annotated_types
import numpy as np
from pydantic import ValidationError

from rain_vtuber.calibrate.solver import FaceFrame, solve
from rain_vtuber.errors import RainError
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.openness import normalise_openness
from rain_vtuber.landmarks.calibration import Calibration, Framing, ShapeParams
from rain_vtuber.landmarks.autofit import FaceFit
from rain_vtuber.landmarks.render import frame_points
from rain_vtuber.landmarks.transforms import apply_translations, build_translations
from rain_vtuber.utils.validation import describe_errors


@dataclass(frozen=True)
class ParamSpec:
    key: str  # "shape.face_length_ratio"
    label: str
    group: str
    low: float
    high: float

    @property
    def step(self) -> float:
        return 0.01 if self.high - self.low > 0.6 else 0.005


def _specs(section: str, model: type, group: str, fields: tuple[str, ...] | None = None) -> list[ParamSpec]:
    out = []
    for name, info in model.model_fields.items():
        if fields is not None and name not in fields:
            continue
        low = next(m.ge for m in info.metadata if isinstance(m, annotated_types.Ge))
        high = next(m.le for m in info.metadata if isinstance(m, annotated_types.Le))
        out.append(ParamSpec(f"{section}.{name}", name.replace("_", " "), group, float(low), float(high)))
    return out


PARAMS: tuple[ParamSpec, ...] = tuple(
    _specs("framing", Framing, "Framing (where the face sits)", ("center_x", "center_y", "scale"))
    + _specs("shape", ShapeParams, "Character shape (the 13 parameters)")
)
SPECS = {p.key: p for p in PARAMS}

SOLVED: tuple[str, ...] = (
    "framing.center_x",
    "framing.center_y",
    "framing.scale",
    "shape.face_length_ratio",
    "shape.jaw_width_ratio",
    "shape.eye_distance_correction",
    "shape.eye_vertical_correction",
    "shape.nose_vertical_correction",
    "shape.mouth_vertical_correction",
)
"""What a face box and anchors determine. Eye/mouth shape ratios and the turn corrections (which
cancel on a frontal face) are left to the sliders."""


def values(calib: Calibration) -> dict[str, float]:
    """Every tunable value of calib by key."""
    return {p.key: float(getattr(getattr(calib, p.key.split(".")[0]), p.key.split(".")[1])) for p in PARAMS}


def with_values(calib: Calibration, updates: Mapping[str, float]) -> Calibration:
    """A validated copy of calib with the given keys changed; RainError names a bad key or value."""
    data = calib.model_dump()
    for key, value in updates.items():
        if key not in SPECS:
            raise RainError(f"unknown calibration value '{key}'; known: {', '.join(SPECS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise RainError(f"'{key}' must be a number, got {value!r}")
        section, name = key.split(".")
        data[section][name] = float(value)
    try:
        return Calibration.model_validate(data)
    except ValidationError as err:
        spec_text = "; ".join(f"{k} from {SPECS[k].low} to {SPECS[k].high}" for k in updates if k in SPECS)
        raise RainError(f"calibration value out of range ({spec_text}): {describe_errors(err, Calibration)}") from err


def clamp(updates: Mapping[str, float]) -> dict[str, float]:
    """Each value clipped into its range (for values that come from a fit, not from the user)."""
    return {k: min(max(float(v), SPECS[k].low), SPECS[k].high) for k, v in updates.items()}


def output_points(calib: Calibration, neutral: np.ndarray) -> np.ndarray:
    """The user's neutral (68, 2) tracked points -> where their dots land in the reference image.

    The renderer's path for a still face: framing fitted to the face itself (what recenter and
    auto-fit do: its position, and its size with auto_fit on), expression normalisation, then the
    17 character transforms.
    """
    fit = FaceFit.of(neutral)
    framing = calib.framing if fit is None else fit.framing(calib.framing, size=calib.framing.auto_fit)
    framed = frame_points(neutral, framing)
    shaped = normalise_openness(framed, calib.expressions)
    return apply_translations(shaped, build_translations(calib.shape))


def fit(calib: Calibration, target: FaceFrame, neutral: np.ndarray = NEUTRAL_FACE) -> Calibration:
    """calib with the SOLVED values that put this neutral face's dots on the target box and anchors."""
    solved = solve(
        lambda v: output_points(with_values(calib, v), neutral),
        values(calib),
        {k: (SPECS[k].low, SPECS[k].high) for k in SOLVED},
        target,
    )
    return with_values(calib, clamp({k: solved[k] for k in SOLVED}))
