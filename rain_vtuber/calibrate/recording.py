"""Guided expression recording: a few seconds of faces per step -> the user's expression ranges."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from pydantic import ValidationError

from rain_vtuber.errors import RainError
from rain_vtuber.face.openness import OpennessRanges, eye_openness, mouth_openness
from rain_vtuber.face.state import FaceState
from rain_vtuber.utils.validation import describe_errors

STEPS = {"neutral": "Neutral face", "eyes_closed": "Eyes closed", "mouth_open": "Mouth open"}
"""Step key -> what the page asks the user to do."""

MARGIN = 0.1
"""Fraction of a measured range given up at each end, so tracker noise on a closed eye or mouth
still renders it fully closed (and a relaxed open one fully open)."""


def measure_step(step: str, faces: Sequence[FaceState]) -> tuple[dict[str, float], np.ndarray | None]:
    """Faces held during one step -> (the range values it measures, the neutral points or None).

    The median face is used, so a blink or a dropped frame during the hold does not count.
    """
    points = np.median(np.stack([np.asarray(f.points, dtype=np.float64) for f in faces]), axis=0)
    eye = float(np.mean(eye_openness(points)))
    mouth = mouth_openness(points)
    if step == "neutral":
        return {"eye_open": eye, "mouth_closed": mouth}, points
    if step == "eyes_closed":
        return {"eye_closed": eye}, None
    if step == "mouth_open":
        return {"mouth_open": mouth}, None
    raise ValueError(f"unknown step {step!r}")


def expression_ranges(current: OpennessRanges, measured: Mapping[str, float]) -> OpennessRanges:
    """current with the measured ends replaced (narrowed by MARGIN where both ends are measured).

    RainError says which step to redo when the ends come out in the wrong order.
    """
    data = current.model_dump()
    for part in ("eye", "mouth"):
        closed, opened = measured.get(f"{part}_closed"), measured.get(f"{part}_open")
        if closed is not None and opened is not None and opened > closed:
            closed, opened = closed + MARGIN * (opened - closed), opened - MARGIN * (opened - closed)
        top = 1.0 if part == "eye" else 2.0
        if closed is not None:
            data[f"{part}_closed"] = min(max(closed, 0.0), top)
        if opened is not None:
            data[f"{part}_open"] = min(max(opened, 0.0), top)
    try:
        return OpennessRanges.model_validate(data)
    except ValidationError as err:
        e = data
        raise RainError(
            f"eyes closed {e['eye_closed']:.3f} / open {e['eye_open']:.3f}, mouth closed {e['mouth_closed']:.3f} / "
            f"open {e['mouth_open']:.3f} are not in order ({describe_errors(err)}); "
            "record neutral with eyes open and mouth closed, then close your eyes fully / open your mouth wide"
        ) from err
