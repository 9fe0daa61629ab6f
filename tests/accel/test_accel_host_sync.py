"""The fused step is one graph with no host synchronisation, so a CUDA graph can capture it.

`.item()`, `.tolist()` or Python branching on tensor values inside the step would break the
dynamo graph (or, with capture_scalar_outputs on, hide a device-to-host copy); both fail here.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
from tests.accel.accel_fixtures import tiny_engine


@pytest.mark.slow  # traces the whole fused step
def test_fused_step_traces_as_one_graph_without_scalar_capture() -> None:
    step = FusedStreamStep(tiny_engine().stream)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(capture_scalar_outputs=False), torch.no_grad():
        explanation = torch._dynamo.explain(step)(*example_inputs(step.spec, "cpu"))
    torch._dynamo.reset()
    reasons = [str(b.reason) for b in explanation.break_reasons]
    assert explanation.graph_break_count == 0, reasons
    assert explanation.graph_count == 1, reasons
