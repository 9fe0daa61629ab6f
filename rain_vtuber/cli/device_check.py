"""`rain-vtuber device-check`: environment, fidelity, memory, speed and a daemon run on this machine's device."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from rain_vtuber.cli.common import DeviceOpt, DtypeOpt, console
from rain_vtuber.errors import RainError

GOLDEN_ENV = "RAIN_GOLDEN_TINY"


def device_check(
    out: Annotated[Path, typer.Option("--out", help="Folder for device-check.json and device-check.md.")] = Path("device-check-out"),
    tiny: Annotated[bool, typer.Option("--tiny", help="The tiny architecture (128x128) and few iterations: CI on CPU.")] = False,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    golden: Annotated[
        Optional[Path], typer.Option("--golden", help=f"Tiny golden set (default ${GOLDEN_ENV}, else ../shared/golden/tiny).")
    ] = None,
    seconds: Annotated[Optional[float], typer.Option("--seconds", min=1, help="Daemon step window (default 60, 10 on CPU).")] = None,
    iterations: Annotated[
        Optional[int], typer.Option("--iterations", min=1, help="Timed iterations per backend (default 100, 4 on CPU).")
    ] = None,
    backends: Annotated[
        Optional[str], typer.Option("--backends", help="Comma-separated (default torch,torch-compile on CUDA, torch on CPU).")
    ] = None,
    steps: Annotated[
        str, typer.Option("--steps", help="all, or some of environment,fidelity,memory,speed,daemon (comma-separated).")
    ] = "all",
    budget: Annotated[float, typer.Option("--budget", min=1, help="Seconds for the whole run; later steps are skipped.")] = 480.0,
    compile_mode: Annotated[
        str, typer.Option("--compile-mode", help="torch.compile mode of the torch-compile backend (max-autotune tunes for minutes).")
    ] = "default",
) -> None:
    """Check this machine's device: each step's figures go to --out/device-check.json; exit 1 if a step failed."""
    import torch

    from rain_vtuber.accel.backends import BACKENDS
    from rain_vtuber.daemon.daemon import exit_process
    from rain_vtuber.devicecheck import STEP_NAMES, CheckContext, default_golden, run_device_check
    from rain_vtuber.engine.golden_replay import GoldenSet
    from rain_vtuber.model.device import resolve_device
    from rain_vtuber.model.release import parse_dtype

    device, dtype = resolve_device(device, dtype)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    chosen_steps = STEP_NAMES if steps == "all" else tuple(s.strip() for s in steps.split(",") if s.strip())
    chosen_backends = tuple(b.strip() for b in (backends or ("torch,torch-compile" if cuda else "torch")).split(","))
    for value, allowed, flag in ((chosen_steps, STEP_NAMES, "--steps"), (chosen_backends, BACKENDS, "--backends")):
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise RainError(f"unknown {flag} {', '.join(unknown)}; use {', '.join(allowed)}")
    parse_dtype(dtype)  # a wrong name stops here, not inside every step
    ctx = CheckContext(
        device=dev, tiny=tiny, dtype=dtype,
        golden=GoldenSet(golden or Path(os.environ.get(GOLDEN_ENV) or default_golden())),
        iterations=iterations or (100 if cuda else 4), daemon_seconds=seconds or (60.0 if cuda else 10.0),
        backends=chosen_backends, compile_mode=compile_mode,
    )
    report = run_device_check(ctx, out, chosen_steps, budget)
    console.print(report.markdown(), soft_wrap=True, markup=False)
    console.print(f"wrote {out / 'device-check.json'} and device-check.md", markup=False)
    exit_process(0 if report.ok else 1)  # NDI and torch threads can abort a normal interpreter teardown

