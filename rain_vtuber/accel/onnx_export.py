"""The fused stream step as ONE static-shape ONNX graph (the input of the TensorRT backend).

Two exporters give the same graph semantics (both checked against PyTorch with onnxruntime):
"torchscript" (default: traces the diffusers attention processors as plain ops, no extra
package, about 2.5x faster) and "dynamo" (torch.export based, the one PyTorch keeps developing;
needs `onnxscript`). Inputs and outputs carry the names of `StepSpec` (pose, latents,
pose_pile, context, guidance, new_noise, step_noise, memory0..9, ref_d00_k..ref_u32_v -> frames,
latents_out, pose_pile_out, memory0_out..memory9_out). Graphs over 2 GB (the full model) keep
their weights as external data next to `model.onnx`, so a graph is a folder, written atomically.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
from rain_vtuber.accel.progress import stage

log = logging.getLogger(__name__)

Exporter = Literal["torchscript", "dynamo"]
# 17: native LayerNormalization; the dynamo exporter starts at 18; TensorRT 10 parses both
OPSETS: dict[str, int] = {"torchscript": 17, "dynamo": 18}
GRAPH_FILE = "model.onnx"


def export_onnx(step: FusedStreamStep, folder: Path, exporter: Exporter = "torchscript") -> Path:
    """Write `folder/model.onnx` (+ external weights when large) for `step`'s shapes, dtype and device."""
    spec = step.spec
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    inputs = tuple(example_inputs(spec, step.timesteps.device))
    opset = OPSETS[exporter]
    options = {"dynamo": False, "do_constant_folding": True} if exporter == "torchscript" else {"dynamo": True, "optimize": True}
    label = f"exporting the stream step to ONNX ({spec.width}x{spec.height}, K={spec.frames}, {exporter}, opset {opset})"
    with stage(label), torch.no_grad(), warnings.catch_warnings():
        # shape asserts in diffusers blocks trace to constants, which is right for a static graph
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export", DeprecationWarning)
        warnings.filterwarnings("ignore", "The feature will be removed", DeprecationWarning)
        torch.onnx.export(
            step, inputs, str(tmp / GRAPH_FILE),
            input_names=list(spec.input_shapes()), output_names=list(spec.output_shapes()),
            opset_version=opset, **options,
        )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder / GRAPH_FILE


def onnxruntime_outputs(path: Path, inputs: Sequence[torch.Tensor], names: Sequence[str]) -> list[np.ndarray]:
    """Run the graph at `path` on onnxruntime's CPU provider."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {name: x.detach().cpu().numpy() for name, x in zip(names, inputs)}
    return session.run(None, feed)


def parity_error(step: FusedStreamStep, path: Path, inputs: Sequence[torch.Tensor] | None = None) -> dict[str, float]:
    """Max abs difference per output between PyTorch `step` and onnxruntime on the exported graph."""
    spec = step.spec
    inputs = list(inputs) if inputs is not None else example_inputs(spec, step.timesteps.device)
    with torch.no_grad():
        expected = step(*inputs)
    actual = onnxruntime_outputs(path, inputs, list(spec.input_shapes()))
    return {
        name: float(np.abs(a.astype(np.float64) - e.detach().cpu().double().numpy()).max())
        for name, a, e in zip(spec.output_shapes(), actual, expected)
    }
