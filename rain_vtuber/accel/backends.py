"""Backend choice (`--backend tensorrt|torch-compile|torch|auto`) and the stream that uses it.

auto picks the fastest backend that can run here: TensorRT when the `tensorrt` package imports
and the device is CUDA, else torch.compile on CUDA (inductor + Triton), else the eager stream.
An explicit choice that cannot run here falls back down the same list with a warning that says
why, so a config written on one machine still starts on another.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil

import torch

from rain_vtuber.accel.fused_step import FusedRunner, FusedStreamStep, StepFn
from rain_vtuber.stream.reference import ReferenceStates
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.errors import RainError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "torch-compile", "torch")


def unavailable_reason(backend: str, device: torch.device) -> str | None:
    """Why `backend` cannot run on `device` here, or None when it can."""
    if backend == "torch":
        return None
    if backend == "tensorrt":
        if device.type != "cuda":
            return f"TensorRT needs a CUDA device, the engine runs on {device}"
        if importlib.util.find_spec("tensorrt") is None:
            return "the `tensorrt` package is not installed (pip install 'rain-vtuber[tensorrt]')"
        return None
    if backend == "torch-compile":
        if device.type == "cuda" and importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs Triton, which this PyTorch build lacks"
        if device.type == "cpu" and not any(shutil.which(cxx) for cxx in ("c++", "g++", "clang++")):
            return "torch.compile on CPU needs a C++ compiler (c++, g++ or clang++) on PATH"
        return None
    raise RainError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def resolve_backend(requested: str, device: torch.device | str) -> str:
    """The backend that will actually run: `requested` if it can, else auto's pick below it (logged)."""
    device = torch.device(device)
    if requested not in BACKENDS:
        raise RainError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if requested == "auto":
        return _fastest(device, BACKENDS[1:])
    why = unavailable_reason(requested, device)
    if why is None:
        return requested
    fallback = _fastest(device, BACKENDS[BACKENDS.index(requested) + 1 :])
    log.warning("backend %s is unavailable: %s; falling back to %s", requested, why, fallback)
    return fallback


def _fastest(device: torch.device, candidates: tuple[str, ...]) -> str:
    """The first of `candidates` that runs here; compiled backends only on CUDA (on CPU the
    minutes of compiling buy little, so they run there only when asked for by name)."""
    for name in candidates:
        if name == "torch":
            break
        if device.type != "cuda":
            continue
        why = unavailable_reason(name, device)
        if why is None:
            log.info("backend -> %s", name)
            return name
        log.info("backend: skipping %s (%s)", name, why)
    log.info("backend -> torch (eager) on %s", device)
    return "torch"


class AcceleratedStream:
    """The eager stream for the soft start, then the fused step of a compiled backend.

    Same interface as `RainStream` for the engine (iterate, set_reference, reset). A reset goes back
    to the eager soft start; a character switch updates both.
    """

    def __init__(self, stream: RainStream, runner: FusedRunner, backend: str):
        self.stream, self.runner, self.backend = stream, runner, backend

    @property
    def noise(self):  # the engine's noise source, shared with the eager stream
        return self.stream.noise

    def set_reference(self, states: ReferenceStates) -> None:
        self.stream.set_reference(states)
        self.runner.set_reference(states, self.stream.kv)  # projected once, for both

    def reset(self) -> None:
        self.stream.reset()
        self.runner.reset()

    def refresh(self, count: int) -> None:
        """`RainStream.refresh` on whichever of the two holds the pile."""
        (self.runner if self.runner.active else self.stream).refresh(count)

    def iterate(self, pose: torch.Tensor) -> torch.Tensor | None:
        """pose (G, 3, H, W) in [0, 1] -> frames (G, H, W, 3) in [0, 1], or None during the soft start."""
        if self.runner.active:
            return self.runner(pose)
        frames = self.stream.iterate(pose)
        if len(self.stream.latents) == self.stream.groups - 1:
            self.runner.take_over(self.stream)
        return frames


def build_step_fn(backend: str, step: FusedStreamStep) -> StepFn:
    """Compile or build the fused step for `backend` (minutes the first time; cached on disk)."""
    if backend == "torch-compile":
        from rain_vtuber.accel.compile import compile_step

        return compile_step(step)
    if backend == "tensorrt":
        from rain_vtuber.accel.tensorrt_backend import tensorrt_step

        return tensorrt_step(step)
    raise ValueError(f"no fused step builder for backend {backend!r}")


def accelerate(stream: RainStream, backend: str) -> RainStream | AcceleratedStream:
    """`stream` driven by `backend` (see the module docstring); the eager stream when that is the pick.

    A backend that fails to build (compiler error, TensorRT parse error, out of memory) falls back
    to the eager stream with a warning rather than leaving the engine without a stream.
    """
    name = resolve_backend(backend, stream.device)
    if name != "torch" and stream.decoder_kind != "taesdv":
        log.warning("backend %s fuses the TAESDV decoder; decoder %r runs on the eager torch backend", name, stream.decoder_kind)
        name = "torch"
    if name == "torch":
        return stream
    step = FusedStreamStep(stream)
    try:
        fn = build_step_fn(name, step)
    except Exception as err:  # noqa: BLE001 -- a stream that runs slower beats no stream
        log.warning("backend %s failed to build (%s: %s); falling back to torch", name, type(err).__name__, err)
        return stream
    runner = FusedRunner(step, fn, lambda shape: stream.noise(shape), stream.w_embedding)
    log.info("stream step on backend %s (%dx%d, K=%d, p=%d, %s)", name, step.spec.width, step.spec.height,
             step.spec.frames, step.spec.groups, step.spec.dtype)
    return AcceleratedStream(stream, runner, name)
