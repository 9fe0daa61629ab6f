"""AnimateDiff-style motion module: temporal self-attention across the frames of the window.

Key layout follows the published checkpoint (`temporal_transformer.transformer_blocks.0.attention_blocks.N`).
Frames are folded into the batch everywhere else, so every call takes `num_frames` to unfold them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn


def sinusoid_table(channels: int, length: int = 32) -> torch.Tensor:
    """(1, length, channels) float32: sin on even channels, cos on odd (upstream float32 recipe)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32) * (-math.log(10000.0) / channels))
    table = torch.zeros(1, length, channels)
    table[0, :, 0::2] = torch.sin(position * div)
    table[0, :, 1::2] = torch.cos(position * div)
    return table


class PositionalEncoding(nn.Module):
    """Adds the frame-index sinusoid; frame 0 is the oldest frame of the current window."""

    def __init__(self, channels: int, max_len: int = 32):
        super().__init__()
        self.register_buffer("pe", sinusoid_table(channels, max_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, HW, C) -> same: frame f's row of the table is added to every token of frame f."""
        return x + self.pe[0, : x.shape[1], None].to(x.dtype)


class TemporalSelfAttention(Attention):
    """Attention over frames at each pixel: (B*F, HW, C) -> (B*F, HW, C), no mask.

    Diffusers' `Attention` holds the layers (to_q, to_k, to_v, to_out: the checkpoint's names), but
    the forward is this one, not a processor's: the tokens stay frame-major while they are
    projected, so to_q / to_k / to_v / to_out are plain matrix products over contiguous rows, and
    only the attention itself sees the frames of one pixel, through strided views. Regrouping the
    tokens per pixel first (AnimateDiff's order) makes every projection a batched matmul over a
    strided input, costs two more copies, and the stock processor divides by a rescale factor of 1.
    """

    def __init__(self, channels: int, heads: int, max_len: int):
        super().__init__(query_dim=channels, heads=heads, dim_head=channels // heads, bias=False)
        self.pos_encoder = PositionalEncoding(channels, max_len)

    def forward(self, hidden_states: torch.Tensor, num_frames: int) -> torch.Tensor:  # type: ignore[override]
        bf, hw, c = hidden_states.shape
        b, heads = bf // num_frames, self.heads
        x = self.pos_encoder(hidden_states.view(b, num_frames, hw, c))

        def per_pixel(t: torch.Tensor) -> torch.Tensor:  # (B, F, HW, C) -> (B*HW, heads, F, C/heads)
            return t.view(b, num_frames, hw, heads, c // heads).permute(0, 2, 3, 1, 4).flatten(0, 1)

        q, k, v = (per_pixel(layer(x)) for layer in (self.to_q, self.to_k, self.to_v))
        out = F.scaled_dot_product_attention(q, k, v)  # (B*HW, heads, F, C/heads)
        out = out.view(b, hw, heads, num_frames, c // heads).permute(0, 3, 1, 2, 4).reshape(bf, hw, c)
        return self.to_out[1](self.to_out[0](out))


class TemporalTransformerBlock(nn.Module):
    def __init__(self, channels: int, heads: int, attention_layers: int, max_len: int):
        super().__init__()
        self.attention_blocks = nn.ModuleList(
            TemporalSelfAttention(channels, heads, max_len) for _ in range(attention_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(attention_layers))
        self.ff = FeedForward(channels, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        for attention, norm in zip(self.attention_blocks, self.norms):
            x = attention(norm(x), num_frames) + x
        return self.ff(self.ff_norm(x)) + x


class TemporalTransformer(nn.Module):
    def __init__(self, channels: int, heads: int, attention_layers: int, blocks: int, max_len: int):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList(
            TemporalTransformerBlock(channels, heads, attention_layers, max_len) for _ in range(blocks)
        )
        self.proj_out = nn.Linear(channels, channels)
        # weight of the temporal residual, a 0-d tensor the stream health guard installs and damps in
        # place (compiled steps and CUDA graphs read the new value, no rebuild); None: exactly 1
        self.register_buffer("residual_scale", None, persistent=False)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B*F, C, H, W) -> same; GroupNorm statistics are per frame."""
        bf, c, h, w = x.shape
        tokens = self.norm(x).permute(0, 2, 3, 1).reshape(bf, h * w, c)
        tokens = self.proj_in(tokens)
        for block in self.transformer_blocks:
            tokens = block(tokens, num_frames)
        out = self.proj_out(tokens).reshape(bf, h, w, c).permute(0, 3, 1, 2)
        # x first: the sum takes x's memory layout, so the token order (channels last) never leaks
        # into the convolutions and GroupNorms that follow (one pass, no extra copy; exact at scale 1)
        return x + out if self.residual_scale is None else x.addcmul(out, self.residual_scale)


def shared_residual_scale(unet: nn.Module) -> torch.Tensor:
    """The one 0-d residual weight of every TemporalTransformer in `unet`, installed at 1 on first use.

    Engines built on the same models get the same tensor, so a later one never takes the modules
    from an earlier one (which would then damp a tensor nothing reads); each fills in its own value.
    """
    modules = [m for m in unet.modules() if isinstance(m, TemporalTransformer)]
    scale = modules[0].residual_scale if modules else None
    if scale is None or any(m.residual_scale is not scale for m in modules):
        weight = next(unet.parameters())
        scale = torch.ones((), device=weight.device, dtype=weight.dtype)
        for module in modules:
            module.residual_scale = scale
    return scale


class MotionModule(nn.Module):
    """Checkpoint wrapper (`motion_modules.N.temporal_transformer`)."""

    def __init__(self, channels: int, heads: int = 8, attention_layers: int = 2, blocks: int = 1, max_len: int = 32):
        super().__init__()
        self.temporal_transformer = TemporalTransformer(channels, heads, attention_layers, blocks, max_len)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        return self.temporal_transformer(x, num_frames)
