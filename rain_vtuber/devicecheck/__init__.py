"""`rain-vtuber device-check` (or `python -m rain_vtuber device-check`): what a GPU machine does with RAIN.

One command, no network, about 8 minutes on one NVIDIA GPU (under 3 on CPU with --tiny, as the test
suite runs it), writing device-check.json and device-check.md into --out:

  environment  GPU name, memory, compute capability, driver; torch, CUDA, Triton and package versions
  fidelity     the tiny golden stream on the device in fp32, fp16 and bf16 within the golden tests' bounds
  memory       device memory with 1 and 4 characters, fusion networks kept on the device and parked
  speed        every backend asked for on random weights (release 512x512, K=16, 4 steps, fp16 on CUDA):
               fps, iteration p50/p99, latency, peak memory, build time, TFLOP/s, the top kernels
  daemon       the daemon on the fastest engine, VMC in and NDI out on loopback, for --seconds

A failing step is recorded (error and traceback tail) and the next one runs. Exit status: 0 when
every step passed, 1 when one failed or was skipped for lack of time.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rain_vtuber.devicecheck.context import STEP_NAMES, CheckContext, default_golden
from rain_vtuber.devicecheck.daemon_step import daemon
from rain_vtuber.devicecheck.report import Report
from rain_vtuber.devicecheck.speed import speed
from rain_vtuber.devicecheck.steps import environment, fidelity, memory

__all__ = ["CheckContext", "STEP_NAMES", "run_device_check", "default_golden", "budgets"]

STEPS = {"environment": environment, "fidelity": fidelity, "memory": memory, "speed": speed, "daemon": daemon}
# Seconds per step on a GPU with the release architecture: speed is mostly the torch.compile build.
# The daemon's budget is its measuring window plus this much for startup (fusing, warming up).
GPU_BUDGET_S = {"environment": 20, "fidelity": 60, "memory": 60, "speed": 240, "daemon": 60}
CPU_TINY_BUDGET_S = {"environment": 10, "fidelity": 60, "memory": 60, "speed": 60, "daemon": 60}


def budgets(ctx: CheckContext) -> dict[str, float]:
    """Per-step budgets in seconds; the daemon's includes its measuring window."""
    table = CPU_TINY_BUDGET_S if ctx.device.type == "cpu" else GPU_BUDGET_S
    return {**table, "daemon": table["daemon"] + ctx.daemon_seconds}


def run_device_check(ctx: CheckContext, out: Path, steps: tuple[str, ...] = STEP_NAMES,
                     budget_s: float = 480.0) -> Report:
    """Run `steps` in order, each under its budget and all under `budget_s`; the report is on disk after each."""
    report = Report(Path(out), ctx.options(), budget_s)
    limits = budgets(ctx)
    for name in steps:
        report.run(name, partial(STEPS[name], ctx), limits[name])
    return report
