"""One stream iteration as a single static-shape module, and the runner that feeds it back.

`FusedStreamStep` is the graph every accelerated backend compiles or exports: pose guider on
the new group, the denoising UNet over the full window (K = groups x group_size frames, fixed
timestep ladder), the per-frame LCM step, pop of the clean oldest group, TAESDV decode of that
group with its 10 memories, and push of the next group's noise. Same semantics as the upstream
TensorRT graph (golden README 5.8): the latent pile that comes in already ends with the newest
group's pure noise; the pile that goes out ends with the noise for the next call.

There is no soft start inside the graph. The eager `RainStream` runs the first `groups - 1`
iterations (the pile grows 1, 2, 3 groups, which the paper shows matters for quality) and the
runner takes its state over from there (`FusedRunner.take_over`). Its random draws are ordered so
that one noise source is consumed exactly as the eager stream consumes it: the handover draws
the newest group's noise, then every call draws the step noise and then the next group's noise.
So with the same seed every backend produces the same frames as `--backend torch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rain_vtuber.stream.reference import ReferenceStates
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.model import reference_attention
from rain_vtuber.model.reference_attention import KV_NAMES, STATE_NAMES
from rain_vtuber.model.taesdv import MemBlock, StreamingDecoder

LATENT_CHANNELS = 4


def memory_shapes(decoder: nn.Sequential, latent_h: int, latent_w: int) -> list[tuple[int, ...]]:
    """Shapes (1, 1, C, h', w') of the TAESDV MemBlock memories, walking the decoder's upsamplers."""
    scale, shapes = 1, []
    for layer in decoder:
        if isinstance(layer, nn.Upsample):
            scale *= int(layer.scale_factor)
        elif isinstance(layer, MemBlock):
            channels = layer.conv[2].out_channels
            shapes.append((1, 1, channels, latent_h * scale, latent_w * scale))
    return shapes


@dataclass(frozen=True)
class StepSpec:
    """Static shapes of one fused step: what a compiled graph or a TensorRT engine is built for."""

    height: int
    width: int
    groups: int  # p
    group_size: int  # K / p
    pose_channels: int  # C0, the UNet's first block width
    context_dim: int
    guidance_dim: int
    memories: tuple[tuple[int, ...], ...]
    states: tuple[tuple[str, tuple[int, ...]], ...]  # (name, (1, tokens, channels)) in STATE_NAMES order
    dtype: torch.dtype
    calls: int = 1  # UNet calls per iteration (num_inference_steps // groups), one step noise each

    @property
    def frames(self) -> int:
        """K, the full window."""
        return self.groups * self.group_size

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // 8, self.width // 8

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Graph inputs by name, in call order."""
        h, w = self.latent_hw
        g, k = self.group_size, self.frames
        shapes: dict[str, tuple[int, ...]] = {
            "pose": (g, 3, self.height, self.width),
            "latents": (1, LATENT_CHANNELS, k, h, w),
            "pose_pile": (1, self.pose_channels, k - g, h, w),
            "context": (1, 1, self.context_dim),
            "guidance": (1, self.guidance_dim),
            "new_noise": (1, LATENT_CHANNELS, g, h, w),
            "step_noise": (self.calls, LATENT_CHANNELS, k, h, w),
        }
        shapes.update({f"memory{i}": s for i, s in enumerate(self.memories)})
        shapes.update({f"ref_{name}_{part}": s for name, s in self.states for part in ("k", "v")})
        return shapes

    def state_names(self) -> list[str]:
        """The inputs that the previous call's outputs feed (latents, pose_pile, memory0..), in output order."""
        return ["latents", "pose_pile", *(f"memory{i}" for i in range(len(self.memories)))]

    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        """Graph outputs by name, in return order; every state output has its input's shape."""
        inputs = self.input_shapes()
        return {"frames": (self.group_size, self.height, self.width, 3),
                **{f"{name}_out": inputs[name] for name in self.state_names()}}

    def input_dtypes(self) -> dict[str, torch.dtype]:
        """Every input in the compute dtype (the reference keys and values are projected in it)."""
        return {name: self.dtype for name in self.input_shapes()}

    def key(self) -> dict[str, object]:
        """What a compiled artefact depends on, as plain JSON-able values."""
        return {"inputs": {n: list(s) for n, s in self.input_shapes().items()}, "dtype": str(self.dtype).removeprefix("torch.")}


class FusedStreamStep(nn.Module):
    """One full-window stream iteration; shares every weight with the eager stream it is built from.

    forward(pose, latents, pose_pile, context, guidance, new_noise, step_noise, *memories, *states)
      pose (G, 3, H, W) in [0, 1]; latents (1, 4, K, h, w), newest group pure noise;
      pose_pile (1, C0, K-G, h, w) features of the K-G older frames; context (1, 1, D) CLIP token;
      guidance (1, 512) LCM w embedding; new_noise (1, 4, G, h, w); step_noise (calls, 4, K, h, w);
      10 TAESDV memories; the 16 reference states' keys and values (1, N, C), projected once per
      character (`reference_attention.project`), in KV_NAMES order.
    returns (frames (G, H, W, 3) in [0, 1], latents', pose_pile', *memories'), states shaped as their inputs.
    """

    def __init__(self, stream: RainStream):
        super().__init__()
        cfg = stream.models.config
        self.groups, self.group_size = stream.groups, stream.group_size
        self.pose_guider = stream.models.pose_guider
        self.unet = stream.models.motion_unet
        self.scheduler = stream.scheduler
        self.bank = stream.bank
        self.taesdv = stream.models.taesdv.decoder  # registered, so .to(), export and the weights hash see it
        self.decoder = StreamingDecoder(stream.models.taesdv)
        # (calls, K): row j holds call j's per-frame timesteps
        self.register_buffer("timesteps", stream.ladder.repeat_interleave(self.group_size, dim=1), persistent=False)
        weight = self.unet.conv_in.weight
        h, w = cfg.latent_height, cfg.latent_width
        self.spec = StepSpec(
            height=cfg.height,
            width=cfg.width,
            groups=self.groups,
            group_size=self.group_size,
            pose_channels=weight.shape[0],
            context_dim=cfg.unet["cross_attention_dim"],
            guidance_dim=stream.w_embedding.shape[-1],
            memories=tuple(memory_shapes(self.decoder.decoder, h, w)),
            states=tuple((name, _state_shape(self.unet, name, h, w)) for name in STATE_NAMES),
            dtype=weight.dtype,
            calls=stream.pile.calls,
        )

    def forward(self, pose: torch.Tensor, latents: torch.Tensor, pose_pile: torch.Tensor, context: torch.Tensor,
                guidance: torch.Tensor, new_noise: torch.Tensor, step_noise: torch.Tensor,
                *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        memories, states = rest[: len(self.spec.memories)], rest[len(self.spec.memories) :]
        g = self.group_size
        feature = self.pose_guider(pose)  # (G, C0, h, w)
        pose_features = torch.cat([pose_pile, feature.transpose(0, 1)[None]], dim=2)
        self.bank.kv = dict(zip(KV_NAMES, states))  # the bank is shared: every user fills it before a run
        prev = latents
        for j in range(self.spec.calls):
            timesteps = self.timesteps[j : j + 1]
            v = self.unet(prev, timesteps, context, pose_features, guidance)
            prev, _ = self.scheduler.step(v, timesteps, prev, step_noise[j : j + 1])
        self.decoder.memory = list(memories)
        frames = self.decoder.decode(prev[:, :, :g].transpose(1, 2))[0]  # (G, 3, H, W)
        frames = frames.clamp(0, 1).permute(0, 2, 3, 1).contiguous()
        next_latents = torch.cat([prev[:, :, g:], new_noise], dim=2)
        return (frames, next_latents, pose_features[:, :, g:].contiguous(), *self.decoder.memory)


def _state_shape(unet: nn.Module, name: str, h: int, w: int) -> tuple[int, int, int]:
    """(1, tokens, channels) of reference state `name` (d10 = down block 1, transformer 0) at latent size h x w."""
    if name == "m":
        level, block = len(unet.down_blocks) - 1, unet.mid_block
    else:
        index = int(name[1])
        level = index if name[0] == "d" else len(unet.up_blocks) - 1 - index
        block = (unet.down_blocks if name[0] == "d" else unet.up_blocks)[index]
    attention = block.attentions[0 if name == "m" else int(name[2])]
    channels = attention.transformer_blocks[0].norm1.normalized_shape[0]
    return (1, (h >> level) * (w >> level), channels)


StepFn = Callable[..., Sequence[torch.Tensor]]


class FusedRunner:
    """Owns the stream state between calls and feeds each call's outputs in as the next call's inputs.

    The latent pile, pose-feature pile and TAESDV memories returned by one call are the next call's
    inputs as they are (a pointer swap, no copy; the TensorRT runner ping-pongs two preallocated
    sets). Reference states, CLIP context and guidance live in buffers allocated once: a character
    switch copies into them, so their addresses never change (CUDA graphs, TensorRT bindings).
    """

    def __init__(self, step: FusedStreamStep, fn: StepFn, noise: Callable[[tuple[int, ...]], torch.Tensor],
                 guidance: torch.Tensor):
        self.spec, self.fn, self.noise, self.unet = step.spec, fn, noise, step.unet
        self.device = step.timesteps.device
        shapes, dtypes = self.spec.input_shapes(), self.spec.input_dtypes()
        self.refs = {n: torch.zeros(shapes[n], dtype=dtypes[n], device=self.device)
                     for n in ("context", "guidance", *(f"ref_{s}" for s in KV_NAMES))}
        self.refs["guidance"].copy_(guidance)
        self.state: list[torch.Tensor] | None = None  # latents, pose_pile, *memories

    @property
    def active(self) -> bool:
        return self.state is not None

    def set_reference(self, states: ReferenceStates, kv: dict[str, torch.Tensor] | None = None) -> None:
        """Write a character's context and reference keys/values into the persistent buffers (in
        place: addresses stay bound). kv: the states already projected (`reference_attention.project`)."""
        kv = kv if kv is not None else reference_attention.project(self.unet, states.states, self.spec.dtype)
        self.refs["context"].copy_(states.context.reshape(self.refs["context"].shape))
        for name in KV_NAMES:
            self.refs[f"ref_{name}"].copy_(kv[name])

    def take_over(self, stream: RainStream) -> None:
        """Adopt the eager stream's state after its soft start (pile of groups - 1 groups)."""
        if len(stream.latents) != self.spec.groups - 1:
            raise RuntimeError(f"handover needs {self.spec.groups - 1} groups in the pile, the stream holds {len(stream.latents)}")
        h, w = self.spec.latent_hw
        new_group = self.noise((1, LATENT_CHANNELS, self.spec.group_size, h, w))  # the draw eager would make next
        latents = torch.cat([*stream.latents, new_group], dim=2).to(self.spec.dtype)
        poses = torch.cat(stream.poses, dim=2).to(self.spec.dtype)
        memories = [m if m is not None else torch.zeros(s, dtype=self.spec.dtype, device=self.device)
                    for m, s in zip(stream.taesdv.memory, self.spec.memories)]
        self.state = [latents, poses, *memories]

    def reset(self) -> None:
        self.state = None

    def refresh(self, count: int) -> None:
        """`RainStream.refresh` on the fed-back pile: fresh noise for the `count` noisiest groups in
        flight (before the newest, already pure noise), drawn group by group as eager draws it and
        written in place so bound buffers keep their addresses."""
        latents, g = self.state[0], self.spec.group_size
        newest = self.spec.groups - 1
        for group in range(max(0, newest - count), newest):
            part = latents[:, :, group * g : (group + 1) * g]
            part.copy_(self.noise(tuple(part.shape)))

    def inputs(self, pose: torch.Tensor, state: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The call's inputs in graph order, drawing step noise first and then the next group's noise."""
        h, w = self.spec.latent_hw
        step_noise = torch.cat([self.noise((1, LATENT_CHANNELS, self.spec.frames, h, w))
                                for _ in range(self.spec.calls)]).to(self.spec.dtype)
        new_noise = self.noise((1, LATENT_CHANNELS, self.spec.group_size, h, w)).to(self.spec.dtype)
        named = {"pose": pose, "new_noise": new_noise, "step_noise": step_noise, **self.refs,
                 **dict(zip(self.spec.state_names(), state))}
        return [named[name] for name in self.spec.input_shapes()]

    @torch.no_grad()
    def __call__(self, pose: torch.Tensor) -> torch.Tensor:
        """pose (G, 3, H, W) in [0, 1] -> frames (G, H, W, 3) in [0, 1]."""
        if self.state is None:
            raise RuntimeError("take_over() an eager stream before calling the fused step")
        pose = pose.to(self.device, self.spec.dtype).contiguous()
        frames, *self.state = self.fn(*self.inputs(pose, self.state))
        return frames


def feed_back(spec: StepSpec, inputs: Sequence[torch.Tensor], outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The next call's inputs: this call's state outputs in place of the state inputs (as the runner does)."""
    names = list(spec.input_shapes())
    nxt = list(inputs)
    for name, value in zip(spec.state_names(), outputs[1:]):
        nxt[names.index(name)] = value
    return nxt


def example_inputs(spec: StepSpec, device: torch.device | str) -> list[torch.Tensor]:
    """Deterministic inputs of the right shapes and dtypes: for tracing, export and warm-up."""
    generator = torch.Generator("cpu").manual_seed(0)
    dtypes = spec.input_dtypes()
    out = []
    for name, shape in spec.input_shapes().items():
        x = torch.rand(shape, generator=generator) if name == "pose" else torch.randn(shape, generator=generator)
        out.append(x.to(device=device, dtype=dtypes[name]))
    return out
