"""Draw the project's own default character: characters/default/reference.png (+ metadata, calibration).

It is written twice, byte for byte the same (a test checks): the repository's characters/ and
calibration/ (the examples a checkout runs with) and rain_vtuber/packaged/ (what the installed
package ships, so `rain-vtuber daemon` works from any folder).

The face is laid out from the pose the renderer draws for the neutral face with calibration/default.yaml,
so the character's eyes, brows, nose, mouth and jaw sit under the dots RAIN is conditioned on.
Everything is drawn from simple shapes here; no third-party artwork is involved.

    python scripts/make_default_character.py [--out-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFilter

from rain_vtuber.landmarks.calibration import Calibration, Framing, save_calibration
from rain_vtuber.landmarks.dots import group_centers
from rain_vtuber.landmarks.render import PoseRenderer
from rain_vtuber.landmarks.transforms import apply_translations, build_translations
from rain_vtuber.paths import PACKAGED_HOME

SIZE = 512
SS = 4  # supersampling factor: draw at 2048 px, downsample for smooth edges
BACKGROUND = "#d7e6f3"
SKIN, SKIN_SHADE = (253, 228, 214), (240, 200, 186)
HAIR, HAIR_DARK, HAIR_LIGHT = (86, 70, 140), (58, 46, 100), (128, 110, 190)
IRIS, IRIS_DARK, IRIS_LIGHT = (52, 150, 140), (24, 80, 84), (130, 215, 190)
LINE = (58, 40, 60)
CLOTH, CLOTH_DARK = (246, 246, 250), (70, 90, 170)

CALIBRATION = Calibration(framing=Framing(center_x=0.5, center_y=0.5, scale=1.0))


def dot_layout() -> np.ndarray:
    """(26, 2) pixel centres of the neutral face's dots under the default calibration."""
    renderer = PoseRenderer(CALIBRATION, SIZE, SIZE)
    renderer.render(None)
    points = renderer.last_points
    assert points is not None
    return group_centers(apply_translations(points, build_translations(CALIBRATION.shape))) * SIZE


def spline(points: list[tuple[float, float]], closed: bool = False, steps: int = 16) -> list[tuple[float, float]]:
    """Catmull-Rom curve through the points (in final-image pixels), scaled to the supersampled canvas."""
    p = np.asarray(points, dtype=np.float64) * SS
    p = np.vstack([p[-1:], p, p[:2]]) if closed else np.vstack([p[:1], p, p[-1:]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0.0, 1.0, steps, endpoint=False):
            out.append(
                0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                       + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
            )
    out.append(p[-2])
    return [tuple(q) for q in out]


def ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill) -> None:
    draw.ellipse([(cx - rx) * SS, (cy - ry) * SS, (cx + rx) * SS, (cy + ry) * SS], fill=fill)


def draw_eye(draw: ImageDraw.ImageDraw, dots: np.ndarray, outer_left: bool) -> None:
    """A big anime eye fitted to the five eye dots: sclera, iris, pupil, highlights, lashes."""
    cx, cy = dots.mean(axis=0)
    w = (dots[:, 0].max() - dots[:, 0].min()) * 1.45
    h = (dots[:, 1].max() - dots[:, 1].min()) * 1.75
    ellipse(draw, cx, cy, w / 2, h / 2, (255, 255, 255))
    ix, iy, irx, iry = cx, cy + h * 0.04, w * 0.30, h * 0.46
    ellipse(draw, ix, iy, irx, iry, IRIS_DARK)
    ellipse(draw, ix, iy + iry * 0.08, irx * 0.86, iry * 0.86, IRIS)
    ellipse(draw, ix, iy + iry * 0.45, irx * 0.62, iry * 0.38, IRIS_LIGHT)
    ellipse(draw, ix, iy, irx * 0.42, iry * 0.45, IRIS_DARK)
    ellipse(draw, ix - irx * 0.35, iy - iry * 0.4, irx * 0.32, iry * 0.22, (255, 255, 255))
    ellipse(draw, ix + irx * 0.4, iy + iry * 0.35, irx * 0.14, iry * 0.1, (255, 255, 255))
    # Upper lash: a thick curve over the eye, flicked out at the outer corner.
    side = -1 if outer_left else 1
    lash = spline(
        [(cx - side * w * 0.55, cy - h * 0.05), (cx, cy - h * 0.55), (cx + side * w * 0.55, cy - h * 0.25)]
    )
    draw.line(lash, fill=LINE, width=int(4.5 * SS), joint="curve")
    draw.line(spline([(cx - w * 0.3, cy + h * 0.5), (cx + w * 0.3, cy + h * 0.5)]), fill=LINE, width=int(1.5 * SS))


def draw_character(dots: np.ndarray) -> Image.Image:
    jaw, brow_r, brow_l = dots[0:5], dots[5:8], dots[8:11]
    lips, nose, eye_r, eye_l = dots[11:15], dots[15], dots[16:21], dots[21:26]
    mid = jaw[2, 0]
    chin = jaw[2]
    img = Image.new("RGB", (SIZE * SS, SIZE * SS), BACKGROUND)
    draw = ImageDraw.Draw(img)

    # Back hair, neck and shoulders.
    back = [(mid - 175, 470), (mid - 185, 250), (mid - 150, 120), (mid, 70),
            (mid + 150, 120), (mid + 185, 250), (mid + 175, 470)]
    draw.polygon(spline(back, closed=True), fill=HAIR_DARK)
    draw.rectangle([(mid - 32) * SS, (chin[1] - 40) * SS, (mid + 32) * SS, 440 * SS], fill=SKIN_SHADE)
    body = [(mid - 200, 520), (mid - 170, 440), (mid - 60, 400), (mid, 430),
            (mid + 60, 400), (mid + 170, 440), (mid + 200, 520)]
    draw.polygon([(x * SS, y * SS) for x, y in body], fill=CLOTH)
    draw.line([(p[0] * SS, p[1] * SS) for p in body[2:5]], fill=CLOTH_DARK, width=6 * SS)
    draw.polygon([((mid - 14) * SS, 440 * SS), ((mid + 14) * SS, 440 * SS), (mid * SS, 470 * SS)], fill=CLOTH_DARK)

    # Face: forehead arc joined to a jaw curve through the jaw dots, chin slightly pointed.
    top = chin[1] - 240
    face = [
        (jaw[0, 0] - 4, jaw[0, 1] - 70), (mid - 100, top + 35), (mid, top), (mid + 100, top + 35),
        (jaw[4, 0] + 4, jaw[4, 1] - 70), (jaw[4, 0], jaw[4, 1]), (jaw[3, 0], jaw[3, 1]), (chin[0], chin[1] + 4),
        (jaw[1, 0], jaw[1, 1]), (jaw[0, 0], jaw[0, 1]),
    ]  # fmt: skip
    draw.polygon(spline(face, closed=True), fill=SKIN)

    # Blush, eyes, brows, nose, mouth.
    blush = Image.new("L", img.size, 0)
    bdraw = ImageDraw.Draw(blush)
    for eye in (eye_r, eye_l):
        ex, ey = eye.mean(axis=0)
        ellipse(bdraw, ex + (ex - mid) * 0.15, ey + 42, 26, 11, 110)
    img.paste((245, 150, 160), mask=blush.filter(ImageFilter.GaussianBlur(6 * SS)))
    draw_eye(draw, eye_r, outer_left=True)
    draw_eye(draw, eye_l, outer_left=False)
    for brow in (brow_r, brow_l):
        draw.line(spline([tuple(p) for p in brow]), fill=HAIR_DARK, width=int(4 * SS), joint="curve")
    nose_line = [(nose[0] * SS, (nose[1] - 2) * SS), ((nose[0] - 2) * SS, (nose[1] + 3) * SS)]
    draw.line(nose_line, fill=SKIN_SHADE, width=3 * SS)
    mx, my = lips[:, 0].mean(), lips[:, 1].mean()
    draw.line(spline([(mx - 16, my - 3), (mx, my + 4), (mx + 16, my - 3)]), fill=LINE, width=int(2.5 * SS))

    # Hair cap with a zigzag fringe just above the brows, side locks framing the face, one highlight.
    brow_top = min(brow_r[:, 1].min(), brow_l[:, 1].min()) - 8
    crown = spline([(mid - 150, top + 110), (mid - 125, top + 15), (mid, top - 28),
                    (mid + 125, top + 15), (mid + 150, top + 110)])
    xs = np.linspace(mid + 150, mid - 150, 11)[1:-1]
    fringe = [(x * SS, (brow_top - (28 + 25 * abs(x - mid) / 150 if i % 2 else -4)) * SS) for i, x in enumerate(xs)]
    draw.polygon(crown + fringe, fill=HAIR)
    for side in (-1, 1):
        lock = [(mid + side * 122, top + 75), (mid + side * 150, 260), (mid + side * 140, 385),
                (mid + side * 116, 330), (mid + side * 110, 200)]
        draw.polygon(spline(lock, closed=True), fill=HAIR)
    draw.line(spline([(mid - 95, top + 22), (mid - 35, top - 2), (mid + 30, top - 6)]), fill=HAIR_LIGHT, width=5 * SS)
    return img.resize((SIZE, SIZE), Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, help="write only here (default: the repository and the package)")
    args = parser.parse_args()
    picture = draw_character(dot_layout())
    meta = {
        "name": "Default",
        "author": "rain-vtuber project",
        "license": "Apache-2.0 (same as the project)",
        "description": "Original character drawn procedurally by scripts/make_default_character.py.",
        "background": BACKGROUND,
    }
    for out_dir in [args.out_dir] if args.out_dir else [Path(__file__).resolve().parents[1], PACKAGED_HOME]:
        folder = out_dir / "characters" / "default"
        folder.mkdir(parents=True, exist_ok=True)
        picture.save(folder / "reference.png", optimize=True)
        (folder / "character.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
        save_calibration(CALIBRATION, out_dir / "calibration" / "default.yaml")
        print(f"wrote {folder / 'reference.png'}, {folder / 'character.yaml'}, {out_dir / 'calibration' / 'default.yaml'}")


if __name__ == "__main__":
    main()
