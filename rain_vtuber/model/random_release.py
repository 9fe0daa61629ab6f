"""The six RAIN networks with random weights: the release architecture (or the tiny test one), no download.

Speed does not depend on weight values, so `rain-vtuber bench` runs on these; with the exact
draw and the normative pe tables they are the full-size golden weights (golden_full README 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rain_vtuber.model import random_weights as rw
from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig
from rain_vtuber.model.release import RainModels

HERE = Path(__file__).parent
UNET_NETS = ("reference_unet", "motion_unet", "pose_guider", "taesdv")


@dataclass(frozen=True)
class Architecture:
    """Model configs of one size; `full_size` ones are checked key by key against the release manifests."""

    unet: dict[str, Any]
    vae: dict[str, Any]
    image_encoder: dict[str, Any]
    resolution: int
    full_size: bool

    @classmethod
    def release(cls) -> "Architecture":
        return cls(_json("release_unet.json"), _json("release_vae.json"), _json("release_image_encoder.json"), 512, True)

    @classmethod
    def tiny(cls) -> "Architecture":
        raw = _json("tiny_architecture.json")
        return cls(raw["unet"], raw["vae"], raw["image_encoder"], raw["resolution"], False)

    def config(self, resolution: int | None = None, base: Path = PACKAGED_CONFIG) -> RainConfig:
        """The release config (stream settings) with this architecture's UNet at `resolution`."""
        size = resolution or self.resolution
        cfg = replace(RainConfig.load(base), unet=self.unet, height=size, width=size, reference_height=size,
                      reference_width=size)
        cfg.validate(base)
        return cfg


def random_models(
    arch: Architecture,
    config: RainConfig,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    exact: bool = False,
    pe_tables: dict[int, torch.Tensor] | None = None,
) -> RainModels:
    """Build every network and give it random weights tensor by tensor (one copy in memory).

    exact=False draws straight on the device in `dtype` (seconds); exact=True runs the normative
    float64 CPU procedure (about a minute at full size) and then moves the weights.
    """
    from diffusers import AutoencoderKL
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    draw = None if exact else rw.fast_draw(device, dtype)
    target = ("cpu", torch.float32) if exact else (device, dtype)
    models = RainModels.build(config)
    with torch.device("meta"):
        models.vae = AutoencoderKL.from_config(arch.vae)
    # CLIP keeps a non-persistent position_ids buffer that must be real: build it on the CPU.
    models.image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**arch.image_encoder))
    for name, module in (*((n, getattr(models, n)) for n in UNET_NETS), ("sd_vae_ft_mse", models.vae)):
        specs = None if arch.full_size else rw.specs_of_module(module)
        rw.fill_module_(module, name, specs, pe_tables, draw=draw, device=target[0], dtype=target[1])
    clip = models.image_encoder
    rw.fill_module_(clip, "image_encoder", None if arch.full_size else rw.specs_of_module(clip), pe_tables,
                    draw=None if exact else rw.fast_draw("cpu"))
    return models.to(device, dtype)


def _json(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text())
