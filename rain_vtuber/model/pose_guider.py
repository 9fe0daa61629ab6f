"""Pose guider: the 26-dot landmark image -> a feature added to the denoising UNet's conv_in output."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PoseGuider(nn.Module):
    """Per-frame conv stack, no temporal mixing.

    (N, 3, H, W) float in [0, 1] -> (N, out_channels, H/8, W/8). Three stride-2 stages, SiLU after
    every conv except the last.
    """

    def __init__(self, out_channels: int = 320, in_channels: int = 3, blocks: tuple[int, ...] = (16, 32, 96, 256)):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, blocks[0], 3, padding=1)
        layers = []
        for c_in, c_out in zip(blocks[:-1], blocks[1:]):
            layers.append(nn.Conv2d(c_in, c_in, 3, padding=1))
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, stride=2))
        self.blocks = nn.ModuleList(layers)
        self.conv_out = nn.Conv2d(blocks[-1], out_channels, 3, padding=1)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.conv_in(pose))
        for conv in self.blocks:
            x = F.silu(conv(x))
        return self.conv_out(x)
