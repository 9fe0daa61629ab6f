"""Device memory accounting that needs no GPU: what stays on the compute device, and a step's peak.

`resident_bytes` walks every tensor an engine keeps (network weights, reference keys/values, the
stream's pile and decoder memories, the fused runner's buffers) and sums those on a device; the
tests run it on CPU with the fusion networks parked on another device. `estimate_peak` builds the
release architecture on the meta device (no memory) and tracks the live bytes of one fused step
with PyTorch's MemTracker: the computed peak for a resolution, dtype and number of characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from rain_vtuber.engine.placement import fusion_modules
from rain_vtuber.model.release import RainModels

NETWORKS = ("reference_unet", "motion_unet", "pose_guider", "taesdv", "vae", "image_encoder")


def tensors_bytes(tensors: Iterable[torch.Tensor | None], device: torch.device) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None and t.device == device)


def module_bytes(module: nn.Module | None, device: torch.device) -> int:
    """Parameters and buffers of `module` that are on `device`."""
    if module is None:
        return 0
    return tensors_bytes([*module.parameters(), *module.buffers()], device)


def resident_bytes(engine, device: torch.device | str | None = None) -> dict[str, int]:
    """Bytes of every tensor `engine` (a RainEngine) keeps on `device` (default: its compute device), by owner."""
    device = torch.device(device or engine.device)
    models: RainModels = engine.models
    out = {name: module_bytes(getattr(models, name), device) for name in NETWORKS}
    stream = getattr(engine.stream, "stream", engine.stream)  # the eager stream inside an accelerated one
    reference = stream.reference
    out["reference_kv"] = tensors_bytes(stream.bank.kv.values(), device)
    out["reference_states"] = tensors_bytes([reference.context, *reference.states.values()], device) if reference else 0
    out["stream_state"] = tensors_bytes([*stream.latents, *stream.poses, *stream.taesdv.memory], device)
    runner = getattr(engine.stream, "runner", None)
    out["fused_buffers"] = tensors_bytes([*runner.refs.values(), *(runner.state or [])], device) if runner else 0
    out["total"] = sum(out.values())
    return out


@dataclass(frozen=True)
class PeakEstimate:
    """Computed device memory (bytes) of the release stream; see `estimate_peak`."""

    resolution: int
    dtype: str
    characters: int
    keep_fusion_models: bool
    stream_weights: int  # motion UNet, pose guider, TAESDV, VAE decoder
    fusion_weights: int  # CLIP, VAE encoder, ReferenceNet: resident only with keep_fusion_models
    characters_states: int  # every resident character's fp16 states + CLIP token
    reference_kv: int  # the active character's keys/values: eager stream + fused buffers
    step_peak: int  # one fused step: weights, inputs, state and activations at their peak
    fusion_peak: int  # fusing one more character with all of the above resident
    peak: int

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "peak_gib": round(self.peak / 2**30, 2)}


def estimate_peak(resolution: int = 512, dtype: torch.dtype = torch.float16, characters: int = 4,
                  keep_fusion_models: bool = False) -> PeakEstimate:
    """Peak device memory of the release stream at `resolution`, computed on the meta device."""
    from diffusers import AutoencoderKL
    from torch.distributed._tools.mem_tracker import MemTracker
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
    from rain_vtuber.engine.stream import RainStream
    from rain_vtuber.model.random_release import Architecture

    arch = Architecture.release()
    cfg = arch.config(resolution)
    models = RainModels.build(cfg)
    with torch.device("meta"):
        models.vae = AutoencoderKL.from_config(arch.vae)
        models.image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**arch.image_encoder))
    models.to("meta", dtype)
    for name in NETWORKS:  # MemTracker hooks every parameter's gradient; no gradient is ever computed here
        getattr(models, name).requires_grad_(True)
    meta = torch.device("meta")
    fusion = fusion_modules(models)
    fusion_weights = sum(module_bytes(m, meta) for m in fusion.values())
    all_weights = sum(module_bytes(getattr(models, n), meta) for n in NETWORKS)
    stream_weights = all_weights - fusion_weights

    step = FusedStreamStep(RainStream(models, lambda shape: torch.randn(shape, device="meta", dtype=dtype)))
    inputs = example_inputs(step.spec, "meta")
    kv = sum(t.numel() * t.element_size() for n, t in zip(step.spec.input_shapes(), inputs) if n.startswith("ref_"))
    states = sum(2 * torch.Size(shape).numel() for _, shape in step.spec.states) + 2 * step.spec.context_dim
    mt = MemTracker()
    mt.track_external(step, *inputs)
    with mt, torch.no_grad():
        step(*inputs)
    # the step's tracked peak holds the stream weights it uses, its inputs (one K/V copy) and activations
    others = stream_weights - module_bytes(step, meta) + (fusion_weights if keep_fusion_models else 0)
    resident_extra = others + characters * states + kv  # + the eager stream's own K/V copy
    step_peak = _peak(mt) + resident_extra

    fuser_mt = MemTracker()
    latents = torch.zeros(1, 4, cfg.latent_height, cfg.latent_width, device="meta", dtype=dtype)
    context = torch.zeros(1, 1, step.spec.context_dim, device="meta", dtype=dtype)
    fuser_mt.track_external(models.reference_unet, latents, context)
    with fuser_mt, torch.no_grad():
        models.reference_unet(latents, torch.zeros(1, device="meta"), encoder_hidden_states=context, return_dict=False)
    resident = stream_weights + characters * states + 2 * kv
    fusion_peak = resident + (fusion_weights - module_bytes(models.reference_unet, meta)) + _peak(fuser_mt)
    return PeakEstimate(resolution, str(dtype).removeprefix("torch."), characters, keep_fusion_models, stream_weights,
                        fusion_weights, characters * states, 2 * kv, step_peak, fusion_peak, max(step_peak, fusion_peak))


def _peak(tracker) -> int:
    snapshot = tracker.get_tracker_snapshot("peak")
    return int(sum(per_device["Total"] for per_device in snapshot.values()))

