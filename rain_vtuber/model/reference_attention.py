"""Reference attention: ReferenceNet writes its self-attention inputs, the denoiser reads them.

Both sides are diffusers attention processors installed with `set_attn_processor`, so the UNet
blocks stay stock diffusers. The 16 states are named d00..u32 (down block I / transformer J, mid,
up block I / transformer J), the names of the upstream TensorRT graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

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
    """ReferenceNet writes `states` (by name); the denoiser reads `kv`, those states already
    projected to its keys and values (`project`). Shared by every engine on the same UNet
    (`install`): each puts its own character's dict in before running the UNet."""

    def __init__(self) -> None:
        self.states: dict[str, torch.Tensor] = {}
        self.kv: dict[str, torch.Tensor] = {}  # "d00_k", "d00_v", ... each (1, N, C)


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

    The reference keys and values (1, N, C) come from the bank, projected once per character with
    this block's own to_k / to_v (`project`), and are shared by every frame in the batch: per
    frame only the frame's own tokens are projected.
    """

    def __init__(self, bank: ReferenceBank, name: str):
        self.bank, self.name = bank, name

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        batch, tokens, channels = hidden_states.shape
        heads = attn.heads
        ref_k, ref_v = self.bank.kv[f"{self.name}_k"], self.bank.kv[f"{self.name}_v"]
        k = torch.cat([attn.to_k(hidden_states), ref_k.expand(batch, -1, -1)], dim=1)
        v = torch.cat([attn.to_v(hidden_states), ref_v.expand(batch, -1, -1)], dim=1)
        q = attn.to_q(hidden_states).view(batch, -1, heads, channels // heads).transpose(1, 2)
        k = k.view(batch, -1, heads, channels // heads).transpose(1, 2)
        v = v.view(batch, -1, heads, channels // heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, tokens, channels)
        return attn.to_out[1](attn.to_out[0](out))


def kv_names(names: Iterable[str]) -> list[str]:
    """Bank keys of the projected states, in order: d00_k, d00_v, d01_k, ..."""
    return [f"{name}_{part}" for name in names for part in ("k", "v")]


STATE_NAMES = ("d00", "d01", "d10", "d11", "d20", "d21", "m", "u10", "u11", "u12", "u20", "u21", "u22", "u30", "u31", "u32")
"""The 16 reference states of the release UNet, in the order the fused step and the goldens use."""
KV_NAMES = tuple(kv_names(STATE_NAMES))  # d00_k, d00_v, ...: graph inputs ref_d00_k, ...


def self_attentions(unet: torch.nn.Module) -> dict[str, Attention]:
    """The spatial self-attention layers that read reference states, by state name (UNet order)."""
    layers = {}
    for path, module in unet.named_modules():
        name = state_name(f"{path}.processor") if isinstance(module, Attention) else None
        if name is not None:
            layers[name] = module
    return layers


@torch.no_grad()
def project(unet: torch.nn.Module, states: Mapping[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Each reference state (1, N, C) through its layer's to_k and to_v, in `dtype`: done once per
    character, where projecting inside attention would repeat it for every frame of every iteration."""
    kv = {}
    for name, attn in self_attentions(unet).items():
        state = states[name].to(attn.to_k.weight.device, dtype)
        kv[f"{name}_k"], kv[f"{name}_v"] = attn.to_k(state), attn.to_v(state)
    return kv


def install(unet: torch.nn.Module, processor: type) -> ReferenceBank:
    """The bank of `unet`'s spatial self-attentions, with `processor(bank, name)` on each.

    One bank per UNet: the first call installs the processors, later ones (every engine built on
    the same models) get the same bank back, so an engine built later never takes the layers from
    one built earlier. The bank holds whatever its last user put in: fill it before each run.
    """
    layers = self_attentions(unet)
    installed = [module.processor for module in layers.values()]
    if installed and all(type(p) is processor for p in installed) and len({id(p.bank) for p in installed}) == 1:
        return installed[0].bank
    bank = ReferenceBank()
    for name, module in layers.items():
        module.set_processor(processor(bank, name))
    return bank
