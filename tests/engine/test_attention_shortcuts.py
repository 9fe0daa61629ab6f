"""The denoiser's attention shortcuts give the stock results (random layers, CPU, fp32)."""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention

from rain_vtuber.model.motion_module import TemporalSelfAttention


def test_temporal_attention_matches_per_pixel_attention() -> None:
    """The frame-major forward equals AnimateDiff's order: tokens regrouped per pixel, stock processor."""
    torch.manual_seed(0)
    frames, batch, hw, channels = 6, 2, 10, 64
    attn = TemporalSelfAttention(channels, heads=4, max_len=8)
    attn.pos_encoder.pe.normal_()
    x = torch.randn(batch * frames, hw, channels)
    per_pixel = x.reshape(batch, frames, hw, channels).permute(0, 2, 1, 3).reshape(batch * hw, frames, channels)
    stock = Attention.forward(attn, per_pixel + attn.pos_encoder.pe[:, :frames])
    expected = stock.reshape(batch, hw, frames, channels).permute(0, 2, 1, 3).reshape(batch * frames, hw, channels)
    torch.testing.assert_close(attn(x, frames), expected, rtol=0, atol=1e-5)
