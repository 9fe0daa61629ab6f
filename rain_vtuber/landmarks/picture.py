"""Character pictures as users have them -> the one RGB picture that CLIP and the VAE both see.

Real VTuber art comes in every form Pillow reads: transparent PNGs, palette GIF-like PNGs, 16-bit
greyscale, phone JPEGs rotated by an EXIF tag. Fusion takes an HxWx3 uint8 RGB array, so every
picture is brought to that one way here: EXIF orientation applied, transparency composited over
the character's background colour (white unless character.yaml says otherwise), 16-bit samples
scaled (not clipped) to 8 bits.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rain_vtuber.errors import RainError

Colour = tuple[int, int, int]

WHITE: Colour = (255, 255, 255)
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # one 16/32-bit channel


def parse_hex_colour(text: str) -> Colour:
    """"#RRGGBB" -> (r, g, b)."""
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def background_colour(image: np.ndarray, border: int = 4) -> Colour:
    """HxWx3 uint8 RGB -> the median colour of its outer border (the flat background of a character sheet)."""
    assert image.ndim == 3 and image.shape[2] == 3, f"expected HxWx3 RGB, got {image.shape}"
    edge = np.concatenate(
        [image[:border].reshape(-1, 3), image[-border:].reshape(-1, 3),
         image[:, :border].reshape(-1, 3), image[:, -border:].reshape(-1, 3)]
    )
    return tuple(int(v) for v in np.median(edge, axis=0))  # type: ignore[return-value]


def read_picture(path: Path, background: Colour = WHITE) -> np.ndarray:
    """A picture file -> HxWx3 uint8 RGB; RainError naming the file when it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise RainError(f"picture {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd metadata, not about pixels
            with Image.open(path) as img:
                img.load()
                return flatten_picture(ImageOps.exif_transpose(img), background)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise RainError(f"cannot decode the picture {path}: {err}") from None


def flatten_picture(img: Image.Image, background: Colour = WHITE) -> np.ndarray:
    """Any Pillow mode -> HxWx3 uint8 RGB, transparent pixels composited over `background`."""
    if img.mode in WIDE_MODES:
        img = _to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        img = canvas
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def _to_8bit(img: Image.Image) -> Image.Image:
    """One wide channel -> 8-bit L: 16-bit ranges are divided by 257 (65535 -> 255), floats clipped."""
    values = np.asarray(img, dtype=np.float64)
    if img.mode != "F":
        values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
