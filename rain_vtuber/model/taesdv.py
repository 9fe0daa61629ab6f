"""TAESDV: tiny temporal SD decoder that decodes a stream group by group with carried memory.

Layer indices follow the public checkpoint (`encoder.N.*`, `decoder.N.*`). The encoder is only
built so the checkpoint loads strictly; RAIN encodes references with the SD VAE.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    """Soft clamp of latents to (-3, 3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual conv block (encoder)."""

    def __init__(self, c: int = 64):
        super().__init__()
        self.conv = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), _conv(c, c))
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + x)


class MemBlock(nn.Module):
    """Residual block that also sees the previous frame's input (the memory)."""

    def __init__(self, c: int = 64):
        super().__init__()
        self.conv = nn.Sequential(_conv(2 * c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), _conv(c, c))
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(torch.cat([x, past], dim=1)) + x)


def _encoder(c: int = 64) -> nn.Sequential:
    layers: list[nn.Module] = [_conv(3, c), Block(c)]
    for _ in range(3):
        layers += [_conv(c, c, stride=2, bias=False), Block(c), Block(c), Block(c)]
    layers.append(_conv(c, 4))
    return nn.Sequential(*layers)


def _decoder(c: int = 64) -> nn.Sequential:
    layers: list[nn.Module] = [Clamp(), _conv(4, c), nn.ReLU()]
    for _ in range(3):
        layers += [MemBlock(c), MemBlock(c), MemBlock(c), nn.Upsample(scale_factor=2), _conv(c, c, bias=False)]
    layers += [MemBlock(c), _conv(c, 3)]
    return nn.Sequential(*layers)


class TAESDV(nn.Module):
    """Checkpoint container: `encoder` + `decoder`."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.encoder = _encoder(channels)
        self.decoder = _decoder(channels)

    def memory_blocks(self) -> list[MemBlock]:
        return [m for m in self.decoder if isinstance(m, MemBlock)]


class StreamingDecoder:
    """Decodes groups of T latent frames in order, carrying each MemBlock's last input.

    For a group with block input x_0..x_{T-1}, MemBlock i sees [memory_i, x_0, ..., x_{T-2}] and keeps
    x_{T-1} as its next memory; memories start at zero (upstream TensorRT `decode_slice`).
    """

    def __init__(self, taesdv: TAESDV):
        self.decoder = taesdv.decoder
        self.memory: list[torch.Tensor | None] = [None] * len(taesdv.memory_blocks())

    def reset(self) -> None:
        self.memory = [None] * len(self.memory)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, T, 4, h, w) latents straight from the pile -> (N, T, 3, 8h, 8w) raw output (about [0, 1])."""
        assert latents.ndim == 5, f"expected N,T,C,H,W latents, got {tuple(latents.shape)}"
        n, t = latents.shape[:2]
        x = latents.reshape(n * t, *latents.shape[2:]).contiguous()  # the pile's (C, T) order would stay in the convs
        mem_index = 0
        for layer in self.decoder:
            if isinstance(layer, MemBlock):
                frames = x.reshape(n, t, *x.shape[1:])
                past = self.memory[mem_index]
                if past is None:
                    past = torch.zeros_like(frames[:, :1])
                shifted = torch.cat([past, frames[:, :-1]], dim=1)
                self.memory[mem_index] = frames[:, -1:].clone()
                x = layer(x, shifted.reshape(n * t, *x.shape[1:]))
                mem_index += 1
            else:
                x = layer(x)
        return x.reshape(n, t, *x.shape[1:])
