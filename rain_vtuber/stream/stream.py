"""The RAIN stream (paper Algorithm 1): a pile of latent groups at staggered noise levels.

Each iteration takes one group of pose frames, runs the pose guider on them, pushes a group of
fresh noise, runs `steps // groups` UNet calls over the whole pile with per-frame timesteps (one
with the release config), each followed by an LCM step on every frame, and once the pile is full
pops the now-clean oldest group and decodes it. The pile grows one group per iteration at the
start (soft start) instead of being pre-filled. Its layout (`PileLayout`) can change at runtime:
that starts a new soft start on the same networks (the latency modes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import torch

from rain_vtuber.stream.noise import NoiseSource
from rain_vtuber.stream.reference import VAE_SCALE, ReferenceStates
from rain_vtuber.model import context_attention, reference_attention
from rain_vtuber.model.config import PileLayout
from rain_vtuber.model.lcm import StreamScheduler, guidance_embedding
from rain_vtuber.model.release import RainModels
from rain_vtuber.model.taesdv import StreamingDecoder

Decoder = Literal["taesdv", "vae"]


class RainStream:
    """Tensor-level stream state and step; `RainEngine` wraps it with numpy in/out."""

    def __init__(self, models: RainModels, noise: NoiseSource, decoder: Decoder = "taesdv", pile: PileLayout | None = None):
        cfg = models.config
        self.models, self.noise, self.decoder_kind = models, noise, decoder
        self.device, self.dtype = models.device, models.dtype
        self.configure(pile or cfg.pile)
        self.w_embedding = guidance_embedding(cfg.guidance_scale).to(self.device, self.dtype)
        # shared with every other stream on these models; self.kv (this stream's character) goes in before each run
        self.bank = reference_attention.install(models.motion_unet, reference_attention.ReadReferenceProcessor)
        self.kv: dict[str, torch.Tensor] = {}
        context_attention.install(models.motion_unet)
        self.taesdv = StreamingDecoder(models.taesdv)
        self.reference: ReferenceStates | None = None
        self.latents: list[torch.Tensor] = []
        self.poses: list[torch.Tensor] = []
        self.decode_began_ns: int | None = None  # when the last decode() began (monotonic), for the daemon's stages
        # test hook: sees the pile (oldest group first, the newest pure noise) before the UNet calls
        # and may change it in place (tests inject disturbances with it); eager iterations only
        self.pile_hook: Callable[[list[torch.Tensor]], None] | None = None

    def configure(self, pile: PileLayout) -> None:
        """Use `pile` from the next iteration on (call reset() too: groups in flight have the old shape)."""
        if (why := pile.problem()) is not None:
            raise ValueError(why)
        self.pile, self.groups, self.group_size = pile, pile.groups, pile.group_size
        self.scheduler = StreamScheduler(self.models.config.scheduler, pile.steps).to(self.device)
        self.ladder = self.scheduler.ladder(pile.groups).to(self.device)  # (calls, groups)

    def set_reference(self, states: ReferenceStates) -> None:
        """Switch character: the next UNet call attends to these states (no ReferenceNet, no reset).

        The states are projected to each layer's reference keys and values here, once per switch,
        in the compute dtype, rather than per frame on every UNet call.
        """
        self.reference = ReferenceStates(states.context.to(self.dtype), states.states)
        self.kv = reference_attention.project(self.models.motion_unet, states.states, self.dtype)
        self.bank.kv = self.kv  # loaded now too, for a caller that runs the UNet itself

    def reset(self) -> None:
        self.latents, self.poses = [], []
        self.taesdv.reset()
        self.noise.reset()

    def refresh(self, count: int) -> None:
        """Replace the `count` noisiest groups in flight with fresh noise: they carry little of the
        picture yet, and a colour drift spreads through them into every group that follows."""
        for i in range(max(0, len(self.latents) - count), len(self.latents)):
            self.latents[i] = self.noise(tuple(self.latents[i].shape))

    @torch.no_grad()
    def iterate(self, pose: torch.Tensor, record: dict[str, torch.Tensor] | None = None) -> torch.Tensor | None:
        """pose (G, 3, H, W) in [0, 1] -> decoded frames (G, H, W, 3) float in [0, 1], or None while filling.

        G is the pile's group_size (`temporal_adaptive_step`): one pose per frame of the new group.
        """
        if self.reference is None:
            raise RuntimeError("set_reference() before streaming")
        g = self.group_size
        assert pose.shape[0] == g, f"expected {g} pose frames, got {pose.shape[0]}"
        # NCHW whatever the caller's strides (an HWC image permuted to CHW would run channels last)
        pose = pose.to(self.device, self.dtype, memory_format=torch.contiguous_format)
        feature = self.models.pose_guider(pose)  # (G, C0, h, w)
        self.poses = (self.poses + [feature.transpose(0, 1)[None]])[-self.groups :]
        h, w = feature.shape[-2:]
        self.latents = (self.latents + [self.noise((1, 4, g, h, w))])[-self.groups :]
        if self.pile_hook is not None:
            self.pile_hook(self.latents)

        n = len(self.latents)
        x = torch.cat(self.latents, dim=2)
        pose_features = torch.cat(self.poses, dim=2)
        self.bank.kv = self.kv
        for level in self.ladder[:, -n:]:  # soft start: the n highest levels
            timesteps = level.repeat_interleave(g)[None]
            v = self.models.motion_unet(x, timesteps, self.reference.context, pose_features, self.w_embedding)
            z = self.noise(tuple(x.shape))
            prev, denoised = self.scheduler.step(v, timesteps, x, z)
            if record is not None:  # the last call's tensors (the only one with the release config)
                record.update(pose_guider_out=feature.transpose(0, 1)[None], timesteps=timesteps, latent_model_input=x,
                              noise_pred=v, scheduler_prev_sample=prev, scheduler_denoised=denoised)
            x = prev
        self.latents = list(x.split(g, dim=2))
        if n < self.groups:
            return None
        clean = self.latents.pop(0)
        self.poses.pop(0)
        if record is not None:
            record["popped_latents"] = clean
        return self.decode(clean)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(1, 4, G, h, w) clean latents -> (G, H, W, 3) float in [0, 1]."""
        if self.device.type == "cuda":  # let the UNet finish first, so its time is not counted as decoding
            torch.cuda.synchronize(self.device)
        self.decode_began_ns = time.monotonic_ns()
        if self.decoder_kind == "taesdv":
            frames = self.taesdv.decode(latents.transpose(1, 2))[0]  # (G, 3, H, W)
        else:
            scaled = (latents * (1 / VAE_SCALE))[0].transpose(0, 1)
            frames = self.models.vae.decode(scaled).sample / 2 + 0.5
        return frames.clamp(0, 1).permute(0, 2, 3, 1)
