"""StrictModel: the base of every settings model read from YAML (calibration, character, face options)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys and wrong types are errors, values are immutable: a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
