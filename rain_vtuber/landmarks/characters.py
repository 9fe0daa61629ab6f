"""Find characters: characters/<name>/reference.png (+ character.yaml) with calibration/<name>.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import yaml
from pydantic import Field, ValidationError

from rain_vtuber.errors import RainError
from rain_vtuber.face.expressions import Expression, ExpressionName
from rain_vtuber.landmarks.picture import WHITE, Colour, parse_hex_colour, read_picture
from rain_vtuber.utils.strict import StrictModel
from rain_vtuber.utils.validation import describe_errors

IMAGE_NAMES = ("reference.png", "reference.jpg", "reference.jpeg", "reference.webp")
"""Accepted reference image names, first match wins."""
CHARACTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""Folder names a character may have (also its calibration file name)."""


@dataclass(frozen=True)
class Character:
    """One character on disk. meta_path is None when there is no character.yaml."""

    name: str
    image_path: Path
    calibration_path: Path
    meta_path: Path | None = None


class CharacterMeta(StrictModel):
    """character.yaml: who made the image and under which licence (shown in status and docs), its
    background colour, and its own named expressions (added to the built-in ones, face/expressions.py)."""

    name: str
    author: str = ""
    license: str = ""
    description: str = ""
    background: Optional[str] = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    """#RRGGBB behind the character: fills transparent pixels (default white) and is the colour
    `background_key: reference` keys out (default: the picture's border colour)."""
    expressions: dict[ExpressionName, Expression] = {}
    """name -> {shapes: {ARKit name: 0..1, ...}, fade_s: seconds}; a built-in name is replaced."""

    @property
    def fill(self) -> Colour:
        """The colour transparent pixels of the picture are composited over."""
        if self.background is None:
            return WHITE
        return parse_hex_colour(self.background)


def find_reference_image(folder: Path) -> Path | None:
    """The character's reference image in `folder` (first of IMAGE_NAMES), or None."""
    return next((folder / n for n in IMAGE_NAMES if (folder / n).is_file()), None)


def character_at(folder: Path, calibration_dir: Path) -> Character | None:
    """The character stored in `folder` (picture, calibration path, character.yaml if any); None without a picture."""
    image = find_reference_image(folder)
    if image is None:
        return None
    meta = folder / "character.yaml"
    return Character(folder.name, image, calibration_dir / f"{folder.name}.yaml", meta if meta.is_file() else None)


def load_character_meta(character: Character) -> CharacterMeta:
    """character.yaml validated; defaults (name only) when the file is absent."""
    if character.meta_path is None:
        return CharacterMeta(name=character.name)
    try:
        data = yaml.safe_load(character.meta_path.read_text(encoding="utf-8")) or {}
        return CharacterMeta.model_validate(data)
    except ValidationError as err:
        raise RainError(f"{character.meta_path}: {describe_errors(err, CharacterMeta)}") from err
    except (OSError, yaml.YAMLError) as err:
        raise RainError(f"{character.meta_path}: {err}".replace("\n", " ")) from err


def load_picture(character: Character) -> tuple[np.ndarray, CharacterMeta]:
    """The character's picture as fusion takes it (transparency over its background) and its meta."""
    meta = load_character_meta(character)
    return read_picture(character.image_path, meta.fill), meta
