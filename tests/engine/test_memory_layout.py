"""Every 4-D block output of the eager stream step is NCHW-contiguous (tiny weights, CPU).

A channels-last tensor leaking out of one block (the motion module once returned its token order)
spreads to every later convolution and GroupNorm, which then run against NCHW weights: 1.4x
slower at full size. Channels last is chosen on purpose only for the compiled CUDA step
(`rain_vtuber.accel.compile.step_memory_format`).
"""

from __future__ import annotations

import torch
from torch import nn

from rain_vtuber.accel.compile import step_memory_format
from tests.accel.accel_fixtures import golden_poses, golden_reference, tiny_engine


def test_every_block_output_of_the_eager_step_is_nchw_contiguous() -> None:
    engine = tiny_engine()
    engine.set_reference(golden_reference())
    seen: dict[str, int] = {}
    wrong: list[str] = []

    def check(name: str):
        def hook(_module: nn.Module, _args, output) -> None:
            out = output[0] if isinstance(output, tuple) else output
            if isinstance(out, torch.Tensor) and out.dim() == 4 and min(out.shape[1:]) > 1:
                seen[name] = seen.get(name, 0) + 1
                if not out.is_contiguous():
                    wrong.append(f"{name} {tuple(out.shape)} strides {out.stride()}")
        return hook

    models = engine.models
    handles = [module.register_forward_hook(check(f"{net}.{path}"))
               for net in ("pose_guider", "motion_unet", "taesdv")
               for path, module in getattr(models, net).named_modules() if path]
    poses = golden_poses()[:16].permute(0, 3, 1, 2).float() / 255
    try:
        frames = [engine.stream.iterate(poses[4 * k : 4 * k + 4]) for k in range(4)]  # last one decodes
    finally:
        for handle in handles:
            handle.remove()
    assert frames[-1] is not None
    assert any(".motion_modules." in name for name in seen) and any(".resnets." in name for name in seen)
    assert any(name.startswith("taesdv.") for name in seen) and len(seen) > 100
    assert not wrong, "channels-last outputs in the eager step:\n" + "\n".join(wrong[:20])


def test_channels_last_is_chosen_for_the_compiled_cuda_step_only() -> None:
    assert step_memory_format(torch.device("cuda")) == torch.channels_last
    assert step_memory_format(torch.device("cpu")) == torch.contiguous_format
