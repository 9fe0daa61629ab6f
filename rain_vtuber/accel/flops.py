"""FLOPs of one fused stream step, counted by PyTorch on the meta device (no weights, no memory).

The count is what `torch.utils.flop_counter` attributes to matmuls, convolutions and attention
(2 FLOPs per multiply-add); norms and pointwise ops are left out, as in the usual compute-limit
arithmetic. Dividing by a GPU's dense fp16 peak gives the compute-limited time of one call:

    fraction of the compute limit = (FLOPs per call / peak FLOP/s) / measured seconds per call
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig
from rain_vtuber.model.release import RainModels


@dataclass(frozen=True)
class StepFlops:
    """FLOPs of one call (one group of output frames) by stage."""

    total: int
    by_module: dict[str, int]
    frames_per_call: int

    @property
    def per_frame(self) -> float:
        return self.total / self.frames_per_call

    def compute_limit_fps(self, peak_flops: float) -> float:
        """Output frames per second if the GPU ran every counted FLOP at `peak_flops`."""
        return peak_flops / self.per_frame


def count_step_flops(config: RainConfig | None = None, height: int | None = None, width: int | None = None) -> StepFlops:
    """FLOPs of the fused step of the release architecture (default: the packaged 512x512 config)."""
    cfg = config or RainConfig.load(PACKAGED_CONFIG)
    if height or width:
        cfg = replace(cfg, height=height or cfg.height, width=width or cfg.width)
    models = RainModels.build(cfg)  # meta device
    stream = RainStream(models, lambda shape: torch.randn(shape, device="meta"))
    step = FusedStreamStep(stream)
    inputs = example_inputs(step.spec, "meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        step(*inputs)
    flops = counter.get_flop_counts()
    total = counter.get_total_flops()
    by_module = {name: sum(flops.get(f"FusedStreamStep.{name}", {}).values()) for name in ("pose_guider", "unet")}
    # the decoder's layers run one by one (memories in between), so it gets what the others leave
    by_module["taesdv"] = total - sum(by_module.values())
    return StepFlops(total, by_module, step.spec.group_size)
