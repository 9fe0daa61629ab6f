"""Build every RAIN network from a release config and load its weights strictly."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.utils import logging as diffusers_logging
from transformers import CLIPVisionModelWithProjection
from transformers.utils import logging as transformers_logging

from rain_vtuber.errors import RainError
from rain_vtuber.model.checkpoints import RELEASE_HINT, load_into
from rain_vtuber.model.config import POSE_GUIDER_BLOCKS, RainConfig
from rain_vtuber.model.motion_unet import MotionUNet
from rain_vtuber.model.pose_guider import PoseGuider
from rain_vtuber.model.taesdv import TAESDV

log = logging.getLogger(__name__)

if not os.environ.get("RAIN_DEBUG"):
    # The libraries' own chatter (.bin fallbacks, dtype-cast advice, per-file progress bars) means
    # nothing to a streamer; our loader reports what it loads and raises on what is wrong.
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def parse_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise RainError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


@dataclass
class RainModels:
    """The six release networks, in eval mode on one device and dtype."""

    config: RainConfig
    reference_unet: UNet2DConditionModel
    motion_unet: MotionUNet
    pose_guider: PoseGuider
    taesdv: TAESDV
    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection

    @property
    def device(self) -> torch.device:
        """Where the networks run (all of them share one device and dtype)."""
        return self.motion_unet.conv_in.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.motion_unet.conv_in.weight.dtype

    @classmethod
    def build(cls, config: RainConfig) -> "RainModels":
        """Networks with the config's shapes on the meta device (no memory, no init time)."""
        with torch.device("meta"):
            reference = UNet2DConditionModel.from_config(config.unet)
            # The release ReferenceNet has no output head: only its attention inputs are used.
            reference.conv_norm_out, reference.conv_act, reference.conv_out = nn.Identity(), nn.Identity(), nn.Identity()
            motion = MotionUNet(config.unet, config.motion)
            pose = PoseGuider(config.unet["block_out_channels"][0], 3, POSE_GUIDER_BLOCKS)
            taesdv = TAESDV()
        return cls(config, reference, motion, pose, taesdv, None, None)  # type: ignore[arg-type]

    @classmethod
    def load(cls, config: RainConfig, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> "RainModels":
        models = cls.build(config)
        files = config.files
        for name in ("reference_unet", "motion_unet", "pose_guider", "taesdv"):
            log.info("loading %s", files[name])
            load_into(getattr(models, name), files[name])
        models.vae = from_pretrained_folder(AutoencoderKL, files["vae"])
        models.image_encoder = from_pretrained_folder(CLIPVisionModelWithProjection, files["image_encoder"])
        return models.to(device, dtype)

    def to(self, device: str | torch.device, dtype: torch.dtype) -> "RainModels":
        for name in ("reference_unet", "motion_unet", "pose_guider", "taesdv", "vae", "image_encoder"):
            module = getattr(self, name)
            if module is not None:
                module.to(device=device, dtype=dtype).eval().requires_grad_(False)
        return self


def from_pretrained_folder(kind: type, folder: Path):
    """A diffusers / transformers `save_pretrained` folder; missing weights are an error, not random init."""
    if not (folder / "config.json").is_file():
        raise RainError(f"{folder.name}/ not found (looked for {folder / 'config.json'}); {RELEASE_HINT}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        safetensors = any(folder.glob("*.safetensors"))  # else the pickled .bin, without a failed lookup first
        model, info = kind.from_pretrained(folder, output_loading_info=True, use_safetensors=safetensors)
    missing = [k for k in info.get("missing_keys", []) if not k.endswith("position_ids")]
    if missing:
        raise RainError(f"{folder} is missing weights: {', '.join(sorted(missing)[:8])}")
    return model
