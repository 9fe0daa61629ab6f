"""The fused step exports to one static ONNX graph that onnxruntime runs like PyTorch (tiny, CPU)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
from rain_vtuber.accel.onnx_export import OPSETS, export_onnx, parity_error
from rain_vtuber.model import reference_attention
from tests.accel.accel_fixtures import golden_reference, tiny_engine


@pytest.mark.slow  # exports the stream step and runs it in onnxruntime
@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_onnx_export_matches_pytorch_on_onnxruntime(tmp_path: Path, exporter: str) -> None:
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (test extra)")
    engine = tiny_engine()
    step = FusedStreamStep(engine.stream)
    path = export_onnx(step, tmp_path / "step", exporter)
    assert path == tmp_path / "step" / "model.onnx" and not (tmp_path / "step.partial").exists()

    graph = onnx.load(str(path))
    assert {o.domain: o.version for o in graph.opset_import}[""] == OPSETS[exporter]
    spec = step.spec
    static = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in graph.graph.input}
    assert static == spec.input_shapes(), "every input is static and named as the runner feeds it"
    assert [o.name for o in graph.graph.output] == list(spec.output_shapes())

    inputs = example_inputs(spec, "cpu")
    names = list(spec.input_shapes())
    reference = golden_reference()  # real reference states instead of random ones
    inputs[names.index("context")] = reference.context
    for name, kv in reference_attention.project(step.unet, reference.states, spec.dtype).items():
        inputs[names.index(f"ref_{name}")] = kv
    errors = parity_error(step, path, inputs)
    assert max(errors.values()) <= 1e-4, errors
    assert errors["frames"] <= 2e-5, errors

