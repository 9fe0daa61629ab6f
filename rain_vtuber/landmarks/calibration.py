"""Per-character calibration (calibration/<name>.yaml): strict model, loading, atomic saving.

Every field has a default, so an empty section (or file) means "the spec's defaults". Unknown keys,
wrong types and out-of-range values are errors that name the file, the key and the allowed range.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from rain_vtuber.audio import AudioCalibration
from rain_vtuber.errors import RainError
from rain_vtuber.face.filter import FilterOptions
from rain_vtuber.face.openness import OpennessRanges
from rain_vtuber.utils.atomic import atomic_write
from rain_vtuber.utils.strict import StrictModel
from rain_vtuber.utils.validation import describe_errors

log = logging.getLogger(__name__)

_RATIO = {"ge": 0.1, "le": 4.0}
_SHORT_RATIO = {"ge": 0.1, "le": 1.5}
_CORRECTION = {"ge": -0.25, "le": 0.25}


class ShapeParams(StrictModel):
    """The 13 named character parameters of the spec (defaults and slider ranges of the reference demo)."""

    face_length_ratio: float = Field(0.75, **_SHORT_RATIO)
    eye_height_ratio: float = Field(3.0, **_RATIO)
    eye_width_ratio: float = Field(1.6, **_RATIO)
    mouth_height_ratio: float = Field(1.2, **_RATIO)
    mouth_width_ratio: float = Field(0.67, **_RATIO)
    jaw_width_ratio: float = Field(0.9, **_SHORT_RATIO)
    eye_horizontal_correction: float = Field(0.15, **_CORRECTION)
    eye_distance_correction: float = Field(0.05, **_CORRECTION)
    eye_vertical_correction: float = Field(0.10, **_CORRECTION)
    mouth_horizontal_correction: float = Field(0.15, **_CORRECTION)
    mouth_vertical_correction: float = Field(0.0, **_CORRECTION)
    nose_horizontal_correction: float = Field(0.0, **_CORRECTION)
    nose_vertical_correction: float = Field(0.0, **_CORRECTION)


class Framing(StrictModel):
    """Where the user's face lands in the pose image: p_out = (p - neutral) * scale' + center.

    center_x/y and scale place the character's face: the neutral face (face/neutral.py) drawn
    at that centre and size is the face the character was drawn under. neutral_x/y is the point of
    the tracked frame that lands on center_x/y, and neutral_size the user's face size (RMS spread
    of brows, nose and eyes, in tracked-frame units): scale' = scale * (neutral face's size /
    neutral_size), so the user's neutral face comes out as big as the character's. Both are learnt
    by auto-fit (landmarks/autofit.py) when auto_fit is on, and by "recenter"; neutral_size null
    uses the face at its tracked size. mirror flips the face left/right first (the character then
    moves like a mirror image of the user).
    """

    center_x: float = Field(0.5, ge=0.0, le=1.0)
    center_y: float = Field(0.5, ge=0.0, le=1.0)
    scale: float = Field(1.0, ge=0.1, le=4.0)
    neutral_x: float = Field(0.5, ge=0.0, le=1.0)
    neutral_y: float = Field(0.5, ge=0.0, le=1.0)
    neutral_size: float | None = Field(None, ge=0.005, le=1.0)
    auto_fit: bool = True
    mirror: bool = False


class SourceOptions(StrictModel):
    """Face-source settings this user/character needs; None leaves the source config's value."""

    crop_ratio: float | None = Field(None, gt=0.0, le=1.0)
    camera: int | None = Field(None, ge=0)

    def overrides(self) -> dict[str, Any]:
        """The fields that are set, to update a SourceConfig: cfg.model_copy(update=...)."""
        return self.model_dump(exclude_none=True)


class Calibration(StrictModel):
    """Everything that turns one user's face into one character's pose images."""

    shape: ShapeParams = ShapeParams()
    framing: Framing = Framing()
    expressions: OpennessRanges = OpennessRanges()
    filter: FilterOptions = FilterOptions()
    source: SourceOptions = SourceOptions()
    audio: AudioCalibration = AudioCalibration()  # microphone lip sync: this user's room and voice levels

    @classmethod
    def exact(cls, shape: ShapeParams | None = None) -> "Calibration":
        """The spec path only: identity framing, no expression normalisation, no filtering."""
        return cls(
            shape=shape or ShapeParams(),
            framing=Framing(auto_fit=False),
            expressions=OpennessRanges(enabled=False),
            filter=FilterOptions(enabled=False),
        )


def load_calibration(path: Path) -> Calibration:
    """Read and validate calibration/<name>.yaml; raises RainError naming file, key and allowed range."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise RainError(f"cannot read calibration {path}: {err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RainError(f"{path}: not valid YAML ({err}); fix the file or restore {path}.bak") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RainError(f"{path}: expected a mapping of sections (shape, framing, ...), got {type(data).__name__}")
    try:
        return Calibration.model_validate(data)
    except ValidationError as err:
        raise RainError(f"{path}: {describe_errors(err, Calibration)}") from err


def save_calibration(calib: Calibration, path: Path) -> None:
    """Write atomically (temp file + rename); the previous file is kept as <name>.yaml.bak."""
    path = Path(path)
    text = "# rain-vtuber calibration (see docs); edited by `rain-vtuber calibrate`\n" + yaml.safe_dump(
        calib.model_dump(mode="json"), sort_keys=False
    )
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    atomic_write(path, text)


def reload_calibration(path: Path, previous: Calibration) -> tuple[Calibration, str | None]:
    """Reload for a running daemon: (new, None) on success, (previous, message) when the file is bad."""
    try:
        return load_calibration(path), None
    except RainError as err:
        log.warning("keeping the previous calibration: %s", err)
        return previous, str(err)

