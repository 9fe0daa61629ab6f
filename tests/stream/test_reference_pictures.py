"""Character pictures of any size fuse as upstream `RAINMorpher.fuse_reference` does.

Upstream hands the picture as given to transformers' CLIPImageProcessor and resizes only the VAE
input (diffusers' VaeImageProcessor, Lanczos) to the model size. The expected inputs here come from
those two library classes themselves, not from this project's preprocessing.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.stream.reference import clip_pixels, vae_pixels
from tests.engine.golden import STATE_NAMES, TINY_CONFIG, TINY_WEIGHTS, close, replay_stream

try:  # transformers >= 5 names the PIL backend (the only one in the 4.x series upstream used)
    from transformers import CLIPImageProcessorPil as UpstreamClipProcessor
except ImportError:  # pragma: no cover - transformers 4.x
    from transformers import CLIPImageProcessor as UpstreamClipProcessor


def picture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth picture with detail (gradients + blobs + noise), so resampling differences show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([np.sin(7 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(11 * x * y + 1)], axis=-1)
    img = 127.5 + 100 * base + rng.normal(0, 12, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def upstream_clip_input(image: np.ndarray) -> torch.Tensor:
    out = UpstreamClipProcessor().preprocess(Image.fromarray(image), return_tensors="np")
    return torch.from_numpy(np.asarray(out["pixel_values"], dtype=np.float32))


def upstream_vae_input(image: np.ndarray, height: int, width: int) -> torch.Tensor:
    return VaeImageProcessor(vae_scale_factor=8).preprocess(Image.fromarray(image), height=height, width=width).float()


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (649, 646),  # odd, nearly square: what a real PNG export looks like
        (502, 300),  # wide: 374.83 px long side, truncated to 374 (rounding gives 375)
        (300, 502),  # tall, same rounding case
        (1080, 1920),  # portrait phone picture
        (100, 150),  # smaller than 224: upscaled
        (300, 300),  # small square icon
        (224, 331),  # short side already 224: no resize
        (3840, 2160),  # 4K
        (225, 1001),  # extreme aspect
    ],
)
def test_clip_input_matches_transformers(width: int, height: int) -> None:
    image = picture(width, height, seed=width * 7 + height)
    close(clip_pixels(image), upstream_clip_input(image), 1e-6, f"clip input {width}x{height}")


@pytest.fixture(scope="module")
def engine() -> RainEngine:
    return RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, cache_dir=None)


@pytest.mark.parametrize(("width", "height"), [(203, 157)])
def test_odd_sized_picture_fuses_and_streams_like_upstream(engine: RainEngine, width: int, height: int) -> None:
    """Fused states and the stream's frames of a non-square, non-model-sized picture equal those
    from the upstream library preprocessing, to the golden tolerances."""
    image = picture(width, height, seed=3)
    cfg = engine.models.config
    clip_in, vae_in = upstream_clip_input(image), upstream_vae_input(image, cfg.reference_height, cfg.reference_width)
    close(clip_pixels(image), clip_in, 0, "clip input")
    close(vae_pixels(image, cfg.reference_height, cfg.reference_width), vae_in, 0, "vae input")
    # diffusers hands over a channels-last view: same values, but convolutions over another memory
    # layout round differently in the last bit (then 1-ulp fp16 flips), so compare on one layout
    ours, expected = engine.fuser.compute(image), engine.fuser.compute_from(clip_in, vae_in.contiguous())
    close(ours.context, expected.context, 1e-5, "clip context")
    for name in STATE_NAMES:
        close(ours.states[name].float(), expected.states[name].float(), 1e-4, f"state {name}")
    got_frames, _ = replay_stream(engine, "vae", ours)
    want_frames, _ = replay_stream(engine, "vae", expected)
    assert len(got_frames) == 3
    for got, want in zip(got_frames, want_frames, strict=True):
        close(got, want, 1e-4, "output frames")


def test_picture_is_not_resized_before_clip(engine: RainEngine) -> None:
    """The bug this guards: CLIP computed from the model-sized copy differs measurably from upstream."""
    image = picture(649, 646, seed=5)
    cfg = engine.models.config
    resized_first = np.asarray(Image.fromarray(image).resize((cfg.reference_width, cfg.reference_height), Image.LANCZOS))
    assert (clip_pixels(resized_first) - upstream_clip_input(image)).abs().max() > 1e-2
    close(clip_pixels(image), upstream_clip_input(image), 1e-6, "clip input 649x646")
