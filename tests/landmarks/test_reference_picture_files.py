"""Character pictures in every form users have them decode to the RGB picture fusion takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks.characters import character_at, load_picture
from rain_vtuber.landmarks.picture import read_picture

RED, SKY = (200, 30, 40), (120, 180, 250)


def rgba_sheet() -> Image.Image:
    """A 40x30 character on a fully transparent background, with a half-transparent band."""
    img = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    img.paste((*RED, 255), (10, 5, 30, 25))
    img.paste((*RED, 128), (0, 0, 40, 3))
    return img


def test_transparency_is_composited_over_white_by_default(tmp_path: Path) -> None:
    rgba_sheet().save(tmp_path / "a.png")
    rgb = read_picture(tmp_path / "a.png")
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[15, 2]) == (255, 255, 255)  # transparent: background colour, not black
    assert tuple(rgb[15, 20]) == RED  # opaque: untouched
    expected_band = [round(c * 128 / 255 + 255 * (1 - 128 / 255)) for c in RED]
    assert np.abs(rgb[1, 20].astype(int) - expected_band).max() <= 1  # alpha blend, not a threshold


def test_transparency_uses_the_given_background(tmp_path: Path) -> None:
    rgba_sheet().save(tmp_path / "a.png")
    rgb = read_picture(tmp_path / "a.png", SKY)
    assert tuple(rgb[15, 2]) == SKY and tuple(rgb[15, 20]) == RED


@pytest.mark.parametrize("mode", ["LA", "PA"])
def test_grey_and_palette_alpha(tmp_path: Path, mode: str) -> None:
    img = rgba_sheet().convert("LA") if mode == "LA" else rgba_sheet().convert("P")
    if mode == "PA":  # palette with a transparent index (tRNS), what image editors export
        img = rgba_sheet().convert("RGB").quantize(colors=4)
        img.info["transparency"] = img.getpixel((2, 15))
    img.save(tmp_path / "p.png")
    rgb = read_picture(tmp_path / "p.png", SKY)
    assert tuple(rgb[15, 2]) == SKY
    assert rgb[15, 20].tolist() != list(SKY)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(values).save(tmp_path / "g16.png")  # a 16-bit greyscale PNG
    with Image.open(tmp_path / "g16.png") as img:
        assert img.mode.startswith("I")
    rgb = read_picture(tmp_path / "g16.png")
    assert rgb[0, :, 0].tolist() == [0, 64, 128, 255] and (rgb[..., 0] == rgb[..., 2]).all()


def test_plain_greyscale_and_cmyk(tmp_path: Path) -> None:
    Image.new("L", (8, 8), 77).save(tmp_path / "l.png")
    assert (read_picture(tmp_path / "l.png") == 77).all()
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert (read_picture(tmp_path / "c.jpg") >= 250).all()  # no ink = white


def test_exif_rotated_jpeg_is_upright(tmp_path: Path) -> None:
    """A phone photo stored landscape with orientation 6 (rotate 90 degrees clockwise to view)."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = RED  # left half red as stored; after the rotation that is the top half
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    rgb = read_picture(tmp_path / "phone.jpg")
    assert rgb.shape == (40, 20, 3)
    assert np.abs(rgb[5, 10].astype(int) - RED).max() < 20 and rgb[35, 10].max() < 20


def test_a_file_that_cannot_be_decoded_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    with pytest.raises(RainError) as err:
        read_picture(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RainError, match="not found"):
        read_picture(tmp_path / "missing.png")


def test_character_background_fills_transparency(tmp_path: Path) -> None:
    """character.yaml's background is what shows through; without it, white."""
    chars, calib = tmp_path / "characters", tmp_path / "calibration"
    for name, meta in {"ann": {"name": "ann", "background": "#78b4fa"}, "bea": None}.items():
        (chars / name).mkdir(parents=True)
        rgba_sheet().save(chars / name / "reference.png")
        if meta:
            (chars / name / "character.yaml").write_text(yaml.safe_dump(meta))
    found = {name: character_at(chars / name, calib) for name in ("ann", "bea")}
    ann, ann_meta = load_picture(found["ann"])
    bea, bea_meta = load_picture(found["bea"])
    assert tuple(ann[15, 2]) == SKY and ann_meta.fill == SKY
    assert tuple(bea[15, 2]) == (255, 255, 255) and bea_meta.background is None
