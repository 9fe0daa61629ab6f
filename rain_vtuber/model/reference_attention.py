"""Reference attention: ReferenceNet writes its self-attention inputs, the denoiser reads them.

Both sides are diffusers attention processors installed with `set_attn_processor`, so the UNet
blocks stay stock diffusers. The 16 states are named d00..u32 (down block I / transformer J, mid,
up block I / transformer J), the names of the upstream TensorRT graph.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

_PATH = re.compile(r"^(down_blocks|up_blocks|mid_block)\.?(\d*)\.?attentions\.(\d+)\.transformer_blocks\.0\.attn1\.processor$")


def state_name(processor_path: str) -> str | None:
    """`down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor` -> "d10"; None for other processors."""
    match = _PATH.match(processor_path)
    if match is None:
        return None
    kind, block, index = match.groups()
    if kind == "mid_block":
        return "m"
    return f"{kind[0]}{block}{index}"


class ReferenceBank:
    """The reference states the denoiser attends to, by name; swapping the dict switches character."""

    def __init__(self) -> None:
        self.states: dict[str, torch.Tensor] = {}


class WriteReferenceProcessor(AttnProcessor2_0):
    """Records the block's norm1 output (the self-attention input) and attends normally."""

    def __init__(self, bank: ReferenceBank, name: str):
        super().__init__()
        self.bank, self.name = bank, name

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        self.bank.states[self.name] = hidden_states
        return super().__call__(attn, hidden_states, *args, **kwargs)


class ReadReferenceProcessor:
    """Self-attention whose keys and values are [own tokens, reference tokens] (own first).

    The reference tokens (1, N, C) are projected with this block's own to_k / to_v and shared by
    every frame in the batch.
    """

    def __init__(self, bank: ReferenceBank, name: str):
        self.bank, self.name = bank, name

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        batch, tokens, channels = hidden_states.shape
        reference = self.bank.states[self.name].to(hidden_states.dtype)
        context = torch.cat([hidden_states, reference.expand(batch, -1, -1)], dim=1)
        heads = attn.heads
        q = attn.to_q(hidden_states).view(batch, -1, heads, channels // heads).transpose(1, 2)
        k = attn.to_k(context).view(batch, -1, heads, channels // heads).transpose(1, 2)
        v = attn.to_v(context).view(batch, -1, heads, channels // heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, tokens, channels)
        return attn.to_out[1](attn.to_out[0](out))


def install(unet: torch.nn.Module, bank: ReferenceBank, processor: type) -> list[str]:
    """Put `processor(bank, name)` on every spatial self-attention; returns the names in UNet order."""
    names = []
    for path, module in unet.named_modules():
        name = state_name(f"{path}.processor") if isinstance(module, Attention) else None
        if name is not None:
            module.set_processor(processor(bank, name))
            names.append(name)
    return names
