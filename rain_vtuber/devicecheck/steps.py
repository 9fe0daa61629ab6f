"""Device-check steps 1, 2 and 4: the environment, golden fidelity on the device, memory with 1 and 4 characters.

Each step fills `record` with figures and returns a one-line summary; it raises when a figure is
out of bounds, after recording it (see report.py).
"""

from __future__ import annotations

import gc
import importlib.metadata
import platform
import shutil
import subprocess
import sys

import numpy as np
import torch

from rain_vtuber import benchmark
from rain_vtuber.devicecheck.context import CheckContext
from rain_vtuber.devicecheck.report import Record, StepClock
from rain_vtuber.engine.golden_replay import STREAM_ATOL, replay_stream, stream_errors

PACKAGES = ("rain-vtuber", "torch", "triton", "diffusers", "transformers", "numpy", "ndi-python", "tensorrt")
MIB = 2**20


def environment(ctx: CheckContext, record: Record, clock: StepClock) -> str:
    """GPU name, memory, compute capability, driver; Python, torch, CUDA and package versions."""
    dev = ctx.device
    record.update(python=sys.version.split()[0], platform=platform.platform(), device=str(dev),
                  device_name=benchmark.device_name(dev), torch_threads=torch.get_num_threads(),
                  cuda_runtime=torch.version.cuda, cudnn=torch.backends.cudnn.version() if dev.type == "cuda" else None,
                  packages={name: _version(name) for name in PACKAGES})
    if dev.type != "cuda":
        return f"{record['device_name']}, torch {torch.__version__}"
    props = torch.cuda.get_device_properties(dev)
    peak = benchmark.peak_tflops(props.name)
    record.update(memory_gib=round(props.total_memory / 2**30, 1), compute_capability=f"{props.major}.{props.minor}",
                  multiprocessors=props.multi_processor_count, driver=_driver_version(),
                  peak_dense_fp16_tflops=peak)
    return (f"{props.name}, {record['memory_gib']} GiB, sm {record['compute_capability']}, driver {record['driver']}, "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}, triton {record['packages']['triton']}")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _driver_version() -> str | None:
    """The NVIDIA driver as nvidia-smi reports it (None without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
    return query.stdout.strip().splitlines()[0] if query.returncode == 0 and query.stdout.strip() else None


def fidelity(ctx: CheckContext, record: Record, clock: StepClock) -> str:
    """The tiny golden stream (SD VAE decode) on the device against its bounds: fp32, fp16 and bf16 on
    CUDA; fp32 alone on CPU, where half precision runs minutes (tests/engine/test_golden_tiny.py has it)."""
    from rain_vtuber.engine import RainEngine

    golden = ctx.golden
    missing = golden.missing()
    if missing:
        raise FileNotFoundError(missing)
    dtypes = list(STREAM_ATOL) if ctx.device.type == "cuda" else ["fp32"]
    failures = []
    for dtype in dtypes:
        atol = STREAM_ATOL[dtype]
        engine = RainEngine.load(golden.weights, golden.config, device=str(ctx.device), dtype=dtype, cache_dir=None)
        with torch.no_grad():
            outputs, _ = replay_stream(golden, engine, "vae", golden.reference())
        errors = stream_errors(golden, outputs)
        worst = max(errors)
        record[dtype] = {"max_abs_error": worst, "atol": atol, "groups": len(errors), "ok": worst <= atol}
        if worst > atol:
            failures.append(f"{dtype} max abs error {worst:.3g} > {atol:g}")
        del engine
    if failures:
        raise AssertionError("; ".join(failures))
    return ", ".join(f"{d} {record[d]['max_abs_error']:.2g} (<= {record[d]['atol']:g})" for d in dtypes)


def memory(ctx: CheckContext, record: Record, clock: StepClock) -> str:
    """Device memory with 1 and 4 characters resident, with the fusion networks kept and parked.

    CUDA: torch's allocator figures (resident between iterations, peak over fusing and streaming),
    one engine per case. CPU: host and device are one, so one engine's bytes are accounted
    (accel.memory.resident_bytes) and the parked case leaves the fusion networks out.
    """
    from rain_vtuber.engine import RainEngine

    models = ctx.models()
    if ctx.device.type == "cuda":
        cases = {}
        for keep in (True, False):
            for characters in CHARACTERS:
                _empty_cache(ctx.device)
                engine = RainEngine(models, cache_dir=None, keep_fusion_models=keep)
                cases[_case(characters, keep)] = _measure_cuda(engine, characters)
                del engine
    else:
        cases = _account_cpu(RainEngine(models, cache_dir=None))
    record["cases"] = cases
    record["method"] = "torch.cuda allocator" if ctx.device.type == "cuda" else "accounting of tensors on the device"
    return ", ".join(f"{name.replace('_characters_', ' ch ')} {case['resident_mib']}"
                     + (f" (peak {case['peak_mib']})" if case["peak_mib"] is not None else "") + " MiB"
                     for name, case in cases.items())


CHARACTERS = (1, 4)


def _case(characters: int, keep: bool) -> str:
    return f"{characters}_characters_{'kept' if keep else 'parked'}"


def _fuse_and_stream(engine, characters: int) -> list:
    """Fuse `characters` random images (their states stay resident, the first active) and stream
    until the pile is full; returns the states."""
    rng = np.random.default_rng(characters)
    states = [engine.fuse_reference(rng.integers(0, 256, (engine.height, engine.width, 3), dtype=np.uint8))
              for _ in range(characters)]
    engine.set_reference(states[0])
    poses = rng.integers(0, 256, (engine.group_size, engine.height, engine.width, 3), dtype=np.uint8)
    with torch.no_grad():
        for _ in range(engine.groups):
            engine.step(poses)
    return states


def _measure_cuda(engine, characters: int) -> Record:
    from rain_vtuber.stream.placement import fusion_modules

    dev = engine.device
    if engine.fuser.placement.keep:  # an earlier engine on these models may have parked them
        for module in fusion_modules(engine.models).values():
            module.to(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    states = _fuse_and_stream(engine, characters)
    torch.cuda.synchronize(dev)
    figures = {"resident_mib": round(torch.cuda.memory_allocated(dev) / MIB, 1),
               "peak_mib": round(torch.cuda.max_memory_allocated(dev) / MIB, 1), "characters_fused": len(states)}
    return figures  # read while `states` (every character's) were still held


def _account_cpu(engine) -> dict[str, Record]:
    from rain_vtuber.accel.memory import module_bytes, resident_bytes, tensors_bytes
    from rain_vtuber.stream.placement import fusion_modules

    dev = engine.device
    states = _fuse_and_stream(engine, max(CHARACTERS))
    engine_bytes = resident_bytes(engine)["total"]
    fusion = sum(module_bytes(m, dev) for m in fusion_modules(engine.models).values())
    cases = {}
    for keep in (True, False):
        for characters in CHARACTERS:
            others = sum(tensors_bytes([s.context, *s.states.values()], dev) for s in states[1:characters])
            total = engine_bytes + others - (0 if keep else fusion)
            cases[_case(characters, keep)] = {"resident_mib": round(total / MIB, 1), "peak_mib": None}
    return cases


def _empty_cache(device: torch.device) -> None:
    """Free the previous case's engine before the next is measured (it may sit in a reference cycle)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
