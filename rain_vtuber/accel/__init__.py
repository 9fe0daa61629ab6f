"""Accelerated backends for the stream step: one fused static-shape step, compiled or exported.

Backends: "torch" (the eager `RainStream`), "torch-compile" (inductor), "tensorrt" (ONNX ->
TensorRT fp16 engine). `accelerate()` wraps an eager stream with the chosen one.
"""

from rain_vtuber.accel.backends import (
    BACKENDS,
    AcceleratedStream,
    accelerate,
    resolve_backend,
)
from rain_vtuber.accel.fused_step import FusedRunner, FusedStreamStep, StepSpec

__all__ = ["BACKENDS", "AcceleratedStream", "FusedRunner", "FusedStreamStep", "StepSpec", "accelerate", "resolve_backend"]
