"""Device memory accounting that needs no GPU: what stays on the compute device, and a step's peak.

`resident_bytes` walks every tensor an engine keeps (network weights, reference keys/values, the
stream's pile and decoder memories, the fused runner's buffers) and sums those on a device; the
tests run it on CPU with the fusion networks parked on another device. `estimate_resident`
builds the release architecture on the meta device (no memory) and computes the same for a
resolution, dtype and number of characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from rain_vtuber.accel.fused_step import FusedStreamStep
from rain_vtuber.model.random_release import Architecture
from rain_vtuber.model.release import RainModels
from rain_vtuber.stream.placement import fusion_modules
from rain_vtuber.stream.stream import RainStream

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
    out["reference_kv"] = tensors_bytes(stream.kv.values(), device)
    out["reference_states"] = tensors_bytes([reference.context, *reference.states.values()], device) if reference else 0
    out["stream_state"] = tensors_bytes([*stream.latents, *stream.poses, *stream.taesdv.memory], device)
    runner = getattr(engine.stream, "runner", None)
    out["fused_buffers"] = tensors_bytes([*runner.refs.values(), *(runner.state or [])], device) if runner else 0
    out["total"] = sum(out.values())
    return out


@dataclass(frozen=True)
class ResidentEstimate:
    """Bytes the release stream keeps on the device between iterations (weights and per-character data).

    Activations are not included: on the meta device attention runs PyTorch's math path, which
    materialises the score matrix that CUDA's fused kernels never hold, so only a GPU run can
    measure the step's activation peak (`rain-vtuber bench` reports it as peak device memory).
    """

    resolution: int
    dtype: str
    characters: int
    keep_fusion_models: bool
    stream_weights: int  # motion UNet, pose guider, TAESDV, VAE decoder
    fusion_weights: int  # CLIP, VAE encoder, ReferenceNet: on the device only while fusing unless kept
    characters_states: int  # every resident character's fp16 states + CLIP token
    reference_kv: int  # the active character's keys/values: the eager stream's and the fused step's copy
    resident: int  # between fusions
    while_fusing: int  # resident + the fusion networks

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "resident_gib": round(self.resident / 2**30, 3),
                "while_fusing_gib": round(self.while_fusing / 2**30, 3)}


def estimate_resident(resolution: int = 512, dtype: torch.dtype = torch.float16, characters: int = 4,
                      keep_fusion_models: bool = False) -> ResidentEstimate:
    """Device bytes of the release stream at `resolution` held between iterations, computed on the meta device."""
    from diffusers import AutoencoderKL
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection


    arch = Architecture.release()
    models = RainModels.build(arch.config(resolution))
    with torch.device("meta"):
        models.vae = AutoencoderKL.from_config(arch.vae)
        models.image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**arch.image_encoder))
    models.to("meta", dtype)
    meta = torch.device("meta")
    fusion = sum(module_bytes(m, meta) for m in fusion_modules(models).values())
    stream_weights = sum(module_bytes(getattr(models, n), meta) for n in NETWORKS) - fusion
    spec = FusedStreamStep(RainStream(models, lambda shape: torch.empty(shape, device="meta"))).spec
    state_elements = sum(torch.Size(shape).numel() for _, shape in spec.states)
    states = characters * 2 * (state_elements + spec.context_dim)  # fp16 hand-over
    kv = 2 * 2 * state_elements * torch.finfo(dtype).bits // 8  # K and V, in the eager stream and the fused buffers
    resident = stream_weights + states + kv + (fusion if keep_fusion_models else 0)
    return ResidentEstimate(resolution, str(dtype).removeprefix("torch."), characters, keep_fusion_models,
                            stream_weights, fusion, states, kv, resident, resident + (0 if keep_fusion_models else fusion))
