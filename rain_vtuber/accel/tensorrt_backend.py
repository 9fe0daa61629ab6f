"""Backend "tensorrt": the fused step's ONNX graph built into a TensorRT fp16 engine, cached on disk.

Only runs where the `tensorrt` package imports and the device is CUDA; `backends.resolve_backend`
falls back (with a warning) everywhere else. Engines are cached under `cache_home()/tensorrt`,
named by a key over the GPU model and compute capability, the TensorRT version, the step's
shapes and dtype, the precision flags and a hash of the weights: change any and a new engine is
built (under a file lock, so two processes never build the same engine at once).

The runner binds inputs by address each call and writes outputs into one of two preallocated
output sets, alternating, so a call's state outputs are the next call's inputs with no copy.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from rain_vtuber.accel.build_cache import build_once, cache_key, weights_digest
from rain_vtuber.accel.fused_step import FusedStreamStep, StepFn, StepSpec
from rain_vtuber.accel.onnx_export import OPSETS, export_onnx
from rain_vtuber.accel.progress import stage
from rain_vtuber.errors import RainError
from rain_vtuber.paths import cache_home

log = logging.getLogger(__name__)

PRECISION = "fp16"


def tensorrt_cache_dir() -> Path:
    return cache_home() / "tensorrt"


def describe_gpu(device: torch.device) -> dict[str, object]:
    """What an engine is specific to on the hardware side."""
    props = torch.cuda.get_device_properties(device)
    return {"name": props.name, "capability": f"{props.major}.{props.minor}"}


def engine_key(gpu: dict[str, object], tensorrt_version: str, spec: StepSpec, weights: str,
               precision: str = PRECISION, opset: int = OPSETS["torchscript"]) -> str:
    """Cache key of an engine: any change of GPU, TensorRT, shapes, dtype, precision or weights changes it."""
    return cache_key({"gpu": gpu, "tensorrt": tensorrt_version, "step": spec.key(), "weights": weights,
                      "precision": precision, "opset": opset})


def _progress_monitor(trt):
    """An IProgressMonitor that logs the builder's top-level phases (None if this TensorRT has none)."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class LogMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.steps: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.steps[phase_name] = num_steps
            if parent_phase is None:
                log.info("TensorRT: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            total = self.steps.get(phase_name, 0)
            if total >= 10 and (step + 1) % max(1, total // 10) == 0:
                log.info("TensorRT: %s %d/%d", phase_name, step + 1, total)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            self.steps.pop(phase_name, None)

    return LogMonitor()


def build_engine(step: FusedStreamStep, out: Path, onnx_dir: Path) -> None:
    """Export `step` to ONNX in `onnx_dir`, build an fp16 engine from it and write the plan to `out`."""
    import tensorrt as trt

    graph = export_onnx(step, onnx_dir)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(graph)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RainError(f"TensorRT could not parse the exported stream step: {errors}")
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    spec = step.spec
    with stage(f"building the TensorRT {PRECISION} engine ({spec.width}x{spec.height}, K={spec.frames})"):
        plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RainError("TensorRT failed to build the stream-step engine (see the TensorRT log lines above)")
    out.write_bytes(bytes(plan))
    shutil.rmtree(onnx_dir, ignore_errors=True)


class TensorRTStep:
    """Runs a deserialized engine on torch CUDA tensors; outputs alternate between two buffer sets."""

    def __init__(self, plan: bytes, spec: StepSpec, device: torch.device):
        import tensorrt as trt

        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RainError("the cached TensorRT engine does not load with this TensorRT; delete it to rebuild")
        self.context = self.engine.create_execution_context()
        self.inputs = list(spec.input_shapes())
        dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16, trt.DataType.BF16: torch.bfloat16}
        self.outputs = [
            {name: torch.empty(shape, dtype=dtypes[self.engine.get_tensor_dtype(name)], device=device)
             for name, shape in spec.output_shapes().items()}
            for _ in range(2)
        ]
        self.turn = 0

    def __call__(self, *inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        for name, x in zip(self.inputs, inputs):
            if not x.is_contiguous():
                raise ValueError(f"TensorRT input {name} must be contiguous")
            self.context.set_tensor_address(name, x.data_ptr())
        outputs = self.outputs[self.turn]
        self.turn ^= 1
        for name, x in outputs.items():
            self.context.set_tensor_address(name, x.data_ptr())
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        return list(outputs.values())


def tensorrt_step(step: FusedStreamStep) -> StepFn:
    """The fused step as a TensorRT engine: from the cache, or exported and built now (minutes)."""
    import tensorrt as trt

    device = step.timesteps.device
    with stage("hashing the weights for the TensorRT engine cache"):
        weights = weights_digest(step)
    key = engine_key(describe_gpu(device), trt.__version__, step.spec, weights)
    cache = tensorrt_cache_dir()
    plan = build_once(cache / f"{key}.plan", lambda out: build_engine(step, out, cache / f"{key}.onnx"))
    return TensorRTStep(plan.read_bytes(), step.spec, device)
