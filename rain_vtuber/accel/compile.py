"""Backend "torch-compile": the fused step through torch.compile (inductor), CUDA-graphed on CUDA.

Compiled once per engine, i.e. per (resolution, K, p, dtype): shapes are static (`dynamic=False`)
and the whole step must be one graph (`fullgraph=True`), so a graph break is an error at load
time, not a silent slowdown. Inductor's on-disk caches (FX graph + autotuning results) live under
`cache_home()/inductor`, which makes the second start of the same configuration fast.

On CUDA the compiled step is captured in a CUDA graph by hand (torch.cuda.CUDAGraph) instead of
mode "reduce-overhead": the step's state outputs are the next call's inputs, and a hand-made graph
has plain static input buffers with defined lifetime. Those inputs are copied into the static
buffers before each replay (device-to-device, a few MB at 512x512); outputs are the graph's own
buffers, valid until the next call. Attention runs through scaled_dot_product_attention (the
reference and motion processors use it), convolutions in channels-last on CUDA.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from rain_vtuber.accel.fused_step import (
    FusedStreamStep,
    StepFn,
    example_inputs,
    feed_back,
)
from rain_vtuber.accel.progress import stage
from rain_vtuber.paths import cache_home

log = logging.getLogger(__name__)

WARMUP_CALLS = 3
# The one memory-layout switch (`step_memory_format`). The compiled CUDA step runs channels last:
# its weights are converted once and its 4-D example inputs (the CUDA graph's static buffers) are
# channels last too, so convolutions pick the NHWC tensor-core kernels, inductor keeps that layout
# through the graph, and each call's NCHW inputs are converted by the copy into those buffers. The
# weights are shared, so the eager soft start on that device then runs channels last as well
# (cuDNN follows the weights). Everywhere else (eager torch backend, CPU) the step is NCHW
# throughout, and tests/engine/test_memory_layout.py checks that no block output drifts.
CHANNELS_LAST_DEVICES = frozenset({"cuda"})
# mode for torch.compile; CUDA graphs are ours (see module docstring), so never inductor's.
DEFAULT_MODE = {"cuda": "max-autotune-no-cudagraphs", "cpu": "default"}


def inductor_cache_dir() -> Path:
    return cache_home() / "inductor"


def use_inductor_cache() -> Path:
    """Point inductor's caches at ours unless the user set TORCHINDUCTOR_CACHE_DIR already."""
    path = Path(os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(inductor_cache_dir())))
    path.mkdir(parents=True, exist_ok=True)
    return path


class GraphedStep:
    """A CUDA graph of a compiled step: copy inputs into static buffers, replay, return static outputs."""

    def __init__(self, fn: StepFn, inputs: Sequence[torch.Tensor], warmup: int = WARMUP_CALLS):
        self.static_inputs = [x.clone() for x in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(warmup):  # compile + autotune outside the capture
                fn(*self.static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.static_outputs = list(fn(*self.static_inputs))

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        for static, x in zip(self.static_inputs, inputs):
            if static.data_ptr() != x.data_ptr():
                static.copy_(x)
        self.graph.replay()
        return self.static_outputs


def step_memory_format(device: torch.device) -> torch.memory_format:
    """The layout of the compiled step's 4-D weights and inputs on `device`."""
    return torch.channels_last if device.type in CHANNELS_LAST_DEVICES else torch.contiguous_format


def compile_step(step: FusedStreamStep, mode: str | None = None, cuda_graph: bool = True) -> StepFn:
    """torch.compile `step`, warm it up on example inputs and return the callable to run it with.

    mode: torch.compile mode (default: DEFAULT_MODE for the device, or $RAIN_COMPILE_MODE).
    cuda_graph: capture the compiled step in a CUDA graph (CUDA only). Without it, on a
      CHANNELS_LAST_DEVICES device the caller passes 4-D inputs channels last (`step_memory_format`).
    """
    use_inductor_cache()
    device = step.timesteps.device
    spec = step.spec
    mode = mode or os.environ.get("RAIN_COMPILE_MODE") or DEFAULT_MODE.get(device.type, "default")
    layout = step_memory_format(device)
    step.to(memory_format=layout)  # only 4-D weights change layout; values do not
    compiled = torch.compile(step, mode=mode, fullgraph=True, dynamic=False)
    inputs = [x.contiguous(memory_format=layout) if x.dim() == 4 else x for x in example_inputs(spec, device)]
    label = f"compiling the stream step ({spec.width}x{spec.height}, K={spec.frames}, p={spec.groups}, " \
            f"{str(spec.dtype).removeprefix('torch.')}, {device.type}, mode {mode})"
    with stage(label):
        if device.type == "cuda" and cuda_graph:
            return GraphedStep(compiled, inputs)
        with torch.no_grad():
            for _ in range(WARMUP_CALLS):  # fed back like the runner: outputs' strides get compiled now too
                inputs = feed_back(spec, inputs, compiled(*inputs))
    return compiled
