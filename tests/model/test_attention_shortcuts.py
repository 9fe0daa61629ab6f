"""The denoiser's two attention shortcuts give the stock results (random layers, CPU, fp32)."""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from rain_vtuber.model.context_attention import SingleTokenCrossAttnProcessor
from rain_vtuber.model.motion_module import TemporalSelfAttention


def test_single_token_cross_attention_is_the_value_row_broadcast() -> None:
    torch.manual_seed(0)
    attn = Attention(query_dim=64, cross_attention_dim=32, heads=4, dim_head=16)
    x = torch.randn(3, 50, 64)
    for context in (torch.randn(3, 1, 32), torch.randn(3, 5, 32)):  # one token: shortcut; five: stock
        attn.set_processor(AttnProcessor2_0())
        stock = attn(x, encoder_hidden_states=context)
        attn.set_processor(SingleTokenCrossAttnProcessor())
        fast = attn(x, encoder_hidden_states=context)
        assert fast.shape == stock.shape == (3, 50, 64)
        torch.testing.assert_close(fast, stock, rtol=0, atol=1e-6)


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
