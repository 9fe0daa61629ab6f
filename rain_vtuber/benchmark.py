"""Measure the RAIN stream: output fps, iteration time, push-to-frame latency and peak memory.

Poses are pushed back to back (no frame pacing), so a frame's latency is the compute of the
iterations it waits for, not the camera's frame period. Iterations before the pile is full
(the soft start) are warm-up and are not counted.
"""

from __future__ import annotations

import platform
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rain_vtuber.engine import RainEngine
from rain_vtuber.model.latency import pile_ms
from rain_vtuber.model.release import RainModels
from rain_vtuber.utils.stats import percentile


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run; times in milliseconds, memory in MiB."""

    model: str
    resolution: int
    dtype: str
    device: str
    device_name: str
    backend: str
    decoder: str
    latency_mode: str  # standard | low
    latency_frames: int  # pile depth K: a pose's frame leaves after this many frames
    pile_ms: float  # those frames at the measured output fps
    iterations: int
    frames: int
    setup_s: float
    build_s: float  # compiling / building the backend (0 for eager torch)
    fuse_ms: float
    fps: float
    iteration_ms_p50: float | None
    iteration_ms_p99: float | None
    latency_ms_p50: float | None
    latency_ms_p99: float | None
    peak_rss_mib: float | None
    peak_device_mib: float | None
    tflops_per_s: float  # counted FLOPs of the stream step times iterations per second
    compute_fraction: float | None  # of the device's dense fp16 peak, where known
    torch_version: str
    torch_threads: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StreamTimings:
    fps: float
    frames: int
    iteration_ms: list[float]
    latency_ms: list[float]


def time_stream(engine: RainEngine, iterations: int, deadline: float | None = None) -> StreamTimings:
    """Run `engine.groups` warm-up iterations, then `iterations` timed ones, through push/pull.

    Latency counts frames pushed once the pile was full, from their push to their pull.
    deadline: a time.perf_counter() instant after which no further timed iteration starts (at least
    one runs), so a caller on a time budget gets fewer iterations rather than none.
    """
    rng = np.random.default_rng(0)
    poses = rng.integers(0, 256, (engine.group_size, engine.height, engine.width, 3), dtype=np.uint8)
    warmup = engine.groups
    engine.reset()
    pushed: deque[tuple[float, bool]] = deque()
    iteration_ms, latency_ms = [], []
    frames = 0
    start = 0.0
    for it in range(warmup + iterations):
        timed = it >= warmup
        if it > warmup and deadline is not None and time.perf_counter() > deadline:
            break
        if it == warmup:
            start = time.perf_counter()
        for pose in poses:
            t_push = time.perf_counter()
            engine.push(pose)
            t_done = time.perf_counter()
            pushed.append((t_push, it >= warmup - 1))
            while engine.pull() is not None:
                t_in, full_pile = pushed.popleft()
                frames += timed
                if full_pile:
                    latency_ms.append((time.perf_counter() - t_in) * 1e3)
        if timed:
            iteration_ms.append((t_done - t_push) * 1e3)  # the last push of a group runs the iteration
    elapsed = time.perf_counter() - start
    return StreamTimings(frames / elapsed if elapsed else 0.0, frames, iteration_ms, latency_ms)


def measure_backend(models: RainModels, backend: str, *, model: str, dtype: str, decoder: str = "taesdv",
                    latency: str = "standard", iterations: int, setup_s: float, step_flops: int,
                    deadline: float | None = None) -> tuple[BenchResult, RainEngine]:
    """Build an engine for `backend` on `models` (`model`: the architecture's name for the record),
    fuse a random character and time the stream.

    Returns the figures and the engine (still streaming, for a profile or a daemon run on it).
    engine.backend says what ran: a backend that failed to build fell back to eager torch.
    """
    dev = models.device
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    started = time.perf_counter()
    engine = RainEngine(models, decoder=decoder, cache_dir=None, backend=backend, latency=latency)  # type: ignore[arg-type]
    build_s = 0.0 if engine.backend == "torch" else time.perf_counter() - started  # eager torch builds nothing
    config = models.config
    image = torch.randint(0, 256, (config.height, config.width, 3), dtype=torch.uint8).numpy()
    started = time.perf_counter()
    engine.set_reference(engine.fuse_reference(image))
    fuse_ms = (time.perf_counter() - started) * 1e3
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    timings = time_stream(engine, iterations, deadline)
    name = device_name(dev)
    tflops = step_flops * timings.fps / engine.group_size / 1e12
    peak = peak_tflops(name) if dev.type == "cuda" else None
    result = BenchResult(
        model=model,
        resolution=config.height,
        dtype=dtype,
        device=str(dev),
        device_name=name,
        backend=engine.backend,
        decoder=decoder,
        latency_mode=latency,
        latency_frames=engine.pile.frames,
        pile_ms=round(pile_ms(engine.pile, timings.fps), 1) if timings.fps else float("inf"),
        iterations=len(timings.iteration_ms),
        frames=timings.frames,
        setup_s=round(setup_s, 2),
        build_s=round(build_s, 2),
        fuse_ms=round(fuse_ms, 1),
        fps=round(timings.fps, 2),
        iteration_ms_p50=percentile(timings.iteration_ms, 50),
        iteration_ms_p99=percentile(timings.iteration_ms, 99),
        latency_ms_p50=percentile(timings.latency_ms, 50),
        latency_ms_p99=percentile(timings.latency_ms, 99),
        peak_rss_mib=_round(peak_rss_mib()),
        peak_device_mib=_round(torch.cuda.max_memory_allocated(dev) / 2**20) if dev.type == "cuda" else None,
        tflops_per_s=round(tflops, 3),
        compute_fraction=round(tflops / peak, 3) if peak else None,
        torch_version=torch.__version__,
        torch_threads=torch.get_num_threads(),
    )
    return result, engine


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# Dense fp16/bf16 tensor-core peaks (TFLOP/s) for the compute-limit fraction; matched on the device name.
PEAK_TFLOPS = {"H200": 790.0, "H100": 790.0, "A100": 312.0, "RTX 4090": 165.0, "L40S": 362.0}


def peak_tflops(name: str) -> float | None:
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process (None where the platform does not report it)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    except OSError:
        pass
    return platform.processor() or platform.machine()
