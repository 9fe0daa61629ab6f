"""RAIN's denoising UNet: the SD-1.5 2D UNet inflated to video, with motion modules.

Frames are folded into the batch, so diffusers' 2D blocks (resnets, spatial transformers, up/down
samplers) run per frame and every GroupNorm normalises each frame on its own. Each frame carries
its own timestep. Motion modules follow every resnet / transformer pair; the pose feature is added
right after conv_in; spatial self-attention reads the reference states (reference_attention.py).
Module names follow the published `motion_unet.pth`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from torch import nn

from rain_vtuber.model.motion_module import MotionModule


def _spatial_transformer(channels: int, unet: dict[str, Any]) -> Transformer2DModel:
    """SD-1.5 spatial transformer; `attention_head_dim` is the legacy name of the number of heads."""
    heads = unet["attention_head_dim"]
    return Transformer2DModel(
        num_attention_heads=heads,
        attention_head_dim=channels // heads,
        in_channels=channels,
        num_layers=1,
        cross_attention_dim=unet["cross_attention_dim"],
        norm_num_groups=unet.get("norm_num_groups", 32),
    )


def _resnet(c_in: int, c_out: int, temb: int, unet: dict[str, Any]) -> ResnetBlock2D:
    return ResnetBlock2D(
        in_channels=c_in, out_channels=c_out, temb_channels=temb, eps=unet.get("norm_eps", 1e-5),
        groups=unet.get("norm_num_groups", 32),
    )


class _Stage(nn.Module):
    """One UNet level: resnets, optional spatial transformers, motion modules, optional resampler."""

    def __init__(
        self,
        channels_in: list[int],
        channels: int,
        temb: int,
        cross_attention: bool,
        unet: dict[str, Any],
        motion: dict[str, Any] | None,
        resample: str | None,
    ):
        super().__init__()
        self.resnets = nn.ModuleList(_resnet(c, channels, temb, unet) for c in channels_in)
        if cross_attention:
            self.attentions = nn.ModuleList(_spatial_transformer(channels, unet) for _ in channels_in)
        if motion is not None:
            self.motion_modules = nn.ModuleList(MotionModule(channels, **motion) for _ in channels_in)
        if resample == "down":
            self.downsamplers = nn.ModuleList([Downsample2D(channels, use_conv=True, out_channels=channels, padding=1, name="op")])
        elif resample == "up":
            self.upsamplers = nn.ModuleList([Upsample2D(channels, use_conv=True, out_channels=channels)])

    def layer(self, i: int, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor, frames: int) -> torch.Tensor:
        """resnet -> spatial transformer (if any) -> motion module (if any)."""
        x = self.resnets[i](x, temb)
        if hasattr(self, "attentions"):
            x = self.attentions[i](x, encoder_hidden_states=context, return_dict=False)[0]
        if hasattr(self, "motion_modules"):
            x = self.motion_modules[i](x, frames)
        return x


class _MidStage(nn.Module):
    """resnet -> transformer -> motion module -> resnet."""

    def __init__(self, channels: int, temb: int, unet: dict[str, Any], motion: dict[str, Any] | None):
        super().__init__()
        self.resnets = nn.ModuleList(_resnet(channels, channels, temb, unet) for _ in range(2))
        self.attentions = nn.ModuleList([_spatial_transformer(channels, unet)])
        if motion is not None:
            self.motion_modules = nn.ModuleList([MotionModule(channels, **motion)])

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor, frames: int) -> torch.Tensor:
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, encoder_hidden_states=context, return_dict=False)[0]
        if hasattr(self, "motion_modules"):
            x = self.motion_modules[0](x, frames)
        return self.resnets[1](x, temb)


def motion_kwargs(additional: dict[str, Any]) -> dict[str, Any] | None:
    """Release `unet_additional_kwargs` -> MotionModule arguments (None when motion modules are off)."""
    if not additional.get("use_motion_module", False):
        return None
    kw = additional.get("motion_module_kwargs", {})
    if kw.get("temporal_attention_dim_div", 1) != 1:
        raise ValueError("temporal_attention_dim_div != 1 is not used by any RAIN release")
    return {
        "heads": kw.get("num_attention_heads", 8),
        "attention_layers": len(kw.get("attention_block_types", ["Temporal_Self", "Temporal_Self"])),
        "blocks": kw.get("num_transformer_block", 1),
        "max_len": kw.get("temporal_position_encoding_max_len", 32),
    }


class MotionUNet(nn.Module):
    """(B, 4, F, h, w) latents + (B, F) timesteps -> (B, 4, F, h, w) v-prediction."""

    def __init__(self, unet: dict[str, Any], additional: dict[str, Any]):
        super().__init__()
        channels = list(unet["block_out_channels"])
        layers = unet.get("layers_per_block", 2)
        temb = channels[0] * 4
        motion = motion_kwargs(additional)
        self.max_frames = motion["max_len"] if motion else 32
        self.conv_in = nn.Conv2d(unet.get("in_channels", 4), channels[0], 3, padding=1)
        self.time_proj = Timesteps(channels[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(channels[0], temb, cond_proj_dim=additional.get("cond_proj_dim"))

        self.down_blocks = nn.ModuleList()
        for i, kind in enumerate(unet["down_block_types"]):
            c_in = channels[max(i - 1, 0)]
            last = i == len(channels) - 1
            self.down_blocks.append(
                _Stage([c_in] + [channels[i]] * (layers - 1), channels[i], temb, kind.startswith("CrossAttn"),
                       unet, motion, None if last else "down")
            )
        self.mid_block = _MidStage(channels[-1], temb, unet, motion if additional.get("motion_module_mid_block", True) else None)

        self.up_blocks = nn.ModuleList()
        rev = channels[::-1]
        for i, kind in enumerate(unet["up_block_types"]):
            prev, out, skip_in = rev[max(i - 1, 0)], rev[i], rev[min(i + 1, len(rev) - 1)]
            ins = [(prev if j == 0 else out) + (skip_in if j == layers else out) for j in range(layers + 1)]
            last = i == len(rev) - 1
            self.up_blocks.append(
                _Stage(ins, out, temb, kind.startswith("CrossAttn"), unet, motion, None if last else "up")
            )
        self.conv_norm_out = nn.GroupNorm(unet.get("norm_num_groups", 32), channels[0], eps=unet.get("norm_eps", 1e-5))
        self.conv_out = nn.Conv2d(channels[0], unet.get("out_channels", 4), 3, padding=1)

    def forward(
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor,
        pose_features: torch.Tensor,
        timestep_cond: torch.Tensor,
    ) -> torch.Tensor:
        """latents (B, 4, F, h, w); timesteps (B, F) int; context (B, 1, D) CLIP token;
        pose_features (B, C0, F, h, w); timestep_cond (1, 512) guidance embedding.
        """
        b, c, f, h, w = latents.shape
        assert f <= self.max_frames, f"{f} frames exceed the motion window of {self.max_frames}"
        x = latents.transpose(1, 2).reshape(b * f, c, h, w)
        t = self.time_proj(timesteps.reshape(b * f)).to(x.dtype)
        temb = self.time_embedding(t, timestep_cond.to(x.dtype))
        ctx = context.repeat_interleave(f, dim=0)
        x = self.conv_in(x) + pose_features.transpose(1, 2).reshape(b * f, -1, h, w)

        skips = [x]
        for stage in self.down_blocks:
            for i in range(len(stage.resnets)):
                x = stage.layer(i, x, temb, ctx, f)
                skips.append(x)
            if hasattr(stage, "downsamplers"):
                x = stage.downsamplers[0](x)
                skips.append(x)
        x = self.mid_block(x, temb, ctx, f)
        for stage in self.up_blocks:
            for i in range(len(stage.resnets)):
                x = torch.cat([x, skips.pop()], dim=1)
                x = stage.layer(i, x, temb, ctx, f)
            if hasattr(stage, "upsamplers"):
                x = stage.upsamplers[0](x, output_size=skips[-1].shape[-2:])
        x = self.conv_out(F.silu(self.conv_norm_out(x)))
        return x.reshape(b, f, -1, h, w).transpose(1, 2)
