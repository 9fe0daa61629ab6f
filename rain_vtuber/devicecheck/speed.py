"""Device-check step 3: stream speed per backend on the random-weight models, and a profile of the fastest.

Every backend gets the timed iterations asked for, or as many as its share of the step's budget
allows (the JSON says how many ran). A backend that fails to build, or falls back to eager torch,
is recorded as failed; the others are still measured.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from rain_vtuber.benchmark import measure_backend
from rain_vtuber.devicecheck.context import CheckContext
from rain_vtuber.devicecheck.report import Record, StepClock

TOP_KERNELS = 15


def speed(ctx: CheckContext, record: Record, clock: StepClock) -> str:
    from rain_vtuber.accel.flops import count_step_flops

    models = ctx.models()
    flops = count_step_flops(models.config)
    record.update(model=ctx.model_name, resolution=models.config.height, frames_k=models.config.pile.frames,
                  steps=models.config.num_inference_steps, dtype=ctx.dtype, setup_s=round(ctx.setup_s, 1),
                  step_tflop=round(flops.total / 1e12, 4), backends={})
    os.environ["RAIN_COMPILE_MODE"] = ctx.compile_mode  # what accel.compile.compile_step reads
    fastest, failures = None, []
    for i, backend in enumerate(ctx.backends):
        share = clock.left() / (len(ctx.backends) - i)  # what is left, split among the backends still to run
        try:
            result, engine = measure_backend(
                models, backend, model=ctx.model_name, dtype=ctx.dtype, iterations=ctx.iterations,
                setup_s=ctx.setup_s, step_flops=flops.total, deadline=time.perf_counter() + share,
            )
        except Exception as err:  # noqa: BLE001 -- recorded; the other backends are still measured
            record["backends"][backend] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
            failures.append(backend)
            continue
        record["backends"][backend] = {"status": "ok", **result.as_dict()}
        if result.backend != backend:
            record["backends"][backend].update(status="failed", error=f"fell back to {result.backend}")
            failures.append(backend)
        elif fastest is None or result.fps > fastest[0].fps:
            fastest = (result, engine)
        del engine
    if fastest is None:
        raise RuntimeError(f"no backend ran: {', '.join(failures)}")
    result, ctx.stream_engine = fastest
    record["profile"] = profile_iteration(ctx.stream_engine)
    summary = ", ".join(f"{name} {r['fps']} fps (p50 {r['iteration_ms_p50']} ms)"
                        for name, r in record["backends"].items() if r["status"] == "ok")
    if failures:
        raise RuntimeError(f"backend(s) failed: {', '.join(failures)}; measured: {summary}")
    return summary


def profile_iteration(engine) -> Record:
    """torch.profiler over one streaming iteration of a warm engine: the top kernels by self device time on CUDA
    (self CPU time of the ops on CPU), each with its share of the iteration."""
    cuda = engine.device.type == "cuda"
    poses = np.random.default_rng(1).integers(0, 256, (engine.group_size, engine.height, engine.width, 3), dtype=np.uint8)
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with profile(activities=activities) as prof:
        engine.step(poses)
        if cuda:
            torch.cuda.synchronize(engine.device)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages()
              if getattr(e, key) > 0 and (not cuda or e.device_type == torch.autograd.DeviceType.CUDA)]
    total = sum(getattr(e, key) for e in events) or 1.0
    top = sorted(events, key=lambda e: getattr(e, key), reverse=True)[:TOP_KERNELS]
    summary: Record = {
        "backend": engine.backend,
        "sorted_by": "self device time" if cuda else "self CPU time",
        "total_ms": round(total / 1e3, 2),
        "top": [{"name": e.key, "self_ms": round(getattr(e, key) / 1e3, 3), "share": round(getattr(e, key) / total, 4),
                 "calls": e.count} for e in top],
    }
    if not events:
        summary["note"] = "the profiler saw no kernels (a CUDA graph replay this CUPTI does not trace?)"
    return summary
