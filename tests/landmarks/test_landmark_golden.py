"""The spec path reproduces the upstream goldens bit-exactly (golden README C2 and 5.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer
from rain_vtuber.landmarks.calibration import ShapeParams
from rain_vtuber.landmarks.dots import COLORS, dot_radius, group_centers, group_pixels
from rain_vtuber.landmarks.render import render_points
from rain_vtuber.landmarks.transforms import apply_translations, build_translations


@pytest.fixture(scope="module")
def golden(shared: Path) -> dict[str, np.ndarray]:
    return load_file(str(shared / "golden" / "tiny" / "golden" / "pose.safetensors"))


def test_translated_landmarks_match(golden: dict[str, np.ndarray]) -> None:
    translated = apply_translations(golden["landmarks_norm"], build_translations(ShapeParams()))
    assert translated.dtype == np.float64
    np.testing.assert_allclose(translated, golden["landmarks_translated"], rtol=0, atol=1e-12)


def test_centres_pixels_radius_colours_match(golden: dict[str, np.ndarray]) -> None:
    translated = golden["landmarks_translated"]
    np.testing.assert_allclose(group_centers(translated), golden["pattern_centers"], rtol=0, atol=1e-12)
    ours = apply_translations(golden["landmarks_norm"], build_translations(ShapeParams()))
    np.testing.assert_array_equal(group_pixels(group_centers(ours), 128, 128), golden["pattern_pixels"])
    assert [dot_radius(points) for points in golden["landmarks_norm"]] == golden["dot_radius"].tolist()
    np.testing.assert_array_equal(np.array(COLORS, dtype=np.uint8), golden["pattern_colors"])


def test_pose_images_pixel_exact(golden: dict[str, np.ndarray], shared: Path) -> None:
    translations = build_translations(ShapeParams())
    png_dir = shared / "golden" / "tiny" / "golden" / "pose_png"
    for i, (points, expected) in enumerate(zip(golden["landmarks_norm"], golden["pose_images"])):
        image = render_points(points, translations, 128, 128)
        assert image.dtype == np.uint8 and image.shape == (128, 128, 3)
        np.testing.assert_array_equal(image, expected, err_msg=f"frame {i}")
        png = np.asarray(Image.open(png_dir / f"pose_{i:02d}.png").convert("RGB"))
        np.testing.assert_array_equal(image, png, err_msg=f"pose_{i:02d}.png")


def test_renderer_exact_mode_is_the_spec_path(golden: dict[str, np.ndarray]) -> None:
    """PoseRenderer with identity framing and expressions/filter off gives the golden frames."""
    renderer = PoseRenderer(Calibration.exact(), height=128, width=128)
    for i, (points, expected) in enumerate(zip(golden["landmarks_norm"], golden["pose_images"])):
        face = FaceState(points.copy(), np.ones(68, bool), timestamp_ns=i * 40_000_000)
        np.testing.assert_array_equal(renderer.render(face), expected, err_msg=f"frame {i}")


def test_a_changed_parameter_changes_the_image(golden: dict[str, np.ndarray]) -> None:
    """Guards the test above: the comparison is sensitive to the calibration."""
    points, expected = golden["landmarks_norm"][0], golden["pose_images"][0]
    wide_eyes = build_translations(ShapeParams(eye_width_ratio=2.5))
    assert not np.array_equal(render_points(points, wide_eyes, 128, 128), expected)
