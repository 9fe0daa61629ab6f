"""LCM maths for the stream: per-frame timesteps, v-prediction, zero-terminal-SNR.

diffusers' LCMScheduler builds the alpha table; its `step` takes one timestep for the whole batch
and keeps a step counter, while the stream needs a different timestep per frame and no hidden
state, so the step itself is the closed form below (golden README 5.5).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers import LCMScheduler


def guidance_embedding(scale: float, dim: int = 512) -> torch.Tensor:
    """LCM "w embedding" of w * 1000: (1, dim) float32, sin first; computed in float32 like upstream."""
    w = torch.tensor([scale * 1000.0], dtype=torch.float32)
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    angles = w[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class StreamScheduler:
    """Alpha table, the per-group timestep ladder, and the per-frame LCM step."""

    def __init__(self, scheduler_kwargs: dict[str, Any], steps: int, timestep_scaling: float = 10.0, sigma_data: float = 0.5):
        base = LCMScheduler(**scheduler_kwargs)
        self.alphas_cumprod = base.alphas_cumprod.to(torch.float32)
        train = base.config.num_train_timesteps
        self.steps = steps
        # trailing spacing, highest first like upstream's set_timesteps: [999, 749, 499, 249] for 4 steps
        self.timesteps = [round(k * train / steps) - 1 for k in range(steps, 0, -1)]
        self.stride = train // steps  # one step length: also t -> t_prev in the LCM step
        self.timestep_scaling, self.sigma_data = timestep_scaling, sigma_data

    def ladder(self, groups: int) -> torch.Tensor:
        """(calls, groups) int64 timesteps, oldest group first; row j is UNet call j of an iteration.

        Upstream's recipe: the levels are timesteps[linspace(steps, 0, groups + 1)[1:]] and each
        further call of the same iteration runs one step length lower. 4 steps, 4 groups:
        [[249, 499, 749, 999]]; 8 steps, 4 groups: that row, then [124, 374, 624, 874].
        """
        levels = torch.tensor(self.timesteps)[torch.linspace(self.steps, 0, groups + 1)[1:].long()]
        return torch.stack([levels - self.stride * j for j in range(self.steps // groups)])

    def to(self, device: torch.device) -> "StreamScheduler":
        self.alphas_cumprod = self.alphas_cumprod.to(device)
        return self

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-frame (alpha_t, alpha_prev, c_skip, c_out) for integer t of shape (B, F), float32."""
        alpha_t = self.alphas_cumprod[t]
        prev = t - self.stride
        alpha_prev = torch.where(prev >= 0, self.alphas_cumprod[prev.clamp(min=0)], torch.ones_like(alpha_t))
        scaled = t.to(torch.float32) * self.timestep_scaling
        sd2 = self.sigma_data**2
        c_skip = sd2 / (scaled**2 + sd2)
        c_out = scaled / (scaled**2 + sd2) ** 0.5
        return alpha_t, alpha_prev, c_skip, c_out

    def step(self, v: torch.Tensor, t: torch.Tensor, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v, x, noise: (B, C, F, h, w); t: (B, F). Returns (prev_sample, denoised)."""
        alpha_t, alpha_prev, c_skip, c_out = (c[:, None, :, None, None] for c in self.coefficients(t))
        x0 = alpha_t.sqrt() * x - (1 - alpha_t).sqrt() * v
        denoised = c_out * x0 + c_skip * x
        prev = alpha_prev.sqrt() * denoised + (1 - alpha_prev).sqrt() * noise
        return prev.to(x.dtype), denoised.to(x.dtype)
