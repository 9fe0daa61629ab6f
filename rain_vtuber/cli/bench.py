"""`rain-vtuber bench`: stream speed on random weights of the release architecture (no download) or --tiny."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from rain_vtuber.cli.common import DeviceOpt, DtypeOpt, console
from rain_vtuber.errors import RainError

if TYPE_CHECKING:
    from rain_vtuber.benchmark import BenchResult


def bench(
    tiny: Annotated[bool, typer.Option("--tiny", help="The tiny test architecture (128x128) instead of the release.")] = False,
    model_size: Annotated[
        Optional[int], typer.Option("--model-size", help="Size RAIN runs at, square, a multiple of 64 (default 512, tiny 128).")
    ] = None,
    resolution: Annotated[Optional[int], typer.Option("--resolution", hidden=True, help="Deprecated: --model-size.")] = None,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Timed iterations after the warm-up.")] = 8,
    backend: Annotated[
        str, typer.Option("--backend", help="auto, torch, torch-compile, tensorrt, or all (every one that runs here).")
    ] = "torch",
    decoder: Annotated[str, typer.Option("--decoder", help="taesdv (real-time) or vae (SD VAE).")] = "taesdv",
    latency: Annotated[
        str, typer.Option("--latency", help="standard (16-frame pile), low (8 frames) or all (both).")
    ] = "standard",
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Measure output fps, iteration time, latency (frames and ms), peak memory and build time per backend and latency mode."""
    import torch

    from rain_vtuber.accel.backends import BACKENDS, unavailable_reason  # torch: imported here, so `ctl` starts fast
    from rain_vtuber.accel.flops import count_step_flops
    from rain_vtuber.benchmark import measure_backend
    from rain_vtuber.model.device import resolve_device
    from rain_vtuber.model.latency import LATENCY_MODES, check_mode, latency_pile
    from rain_vtuber.model.random_release import Architecture, random_models
    from rain_vtuber.model.release import parse_dtype

    choices = (*BACKENDS, "all")
    if backend not in choices:
        raise RainError(f"unknown --backend {backend!r}; use one of {', '.join(choices)}")
    modes = list(LATENCY_MODES) if latency == "all" else [check_mode(latency)]
    if decoder not in ("taesdv", "vae"):
        raise RainError(f"--decoder must be taesdv or vae, got {decoder!r}")
    device, dtype = resolve_device(device, dtype)
    dev = torch.device(device)
    torch_dtype = parse_dtype(dtype)
    arch = Architecture.tiny() if tiny else Architecture.release()
    if backend == "all":
        backends = [b for b in BACKENDS[1:] if unavailable_reason(b, dev) is None]
    else:
        backends = [backend]

    if resolution is not None:
        if model_size is not None:
            raise RainError("give the size once, with --model-size (--resolution is its old name)")
        console.print("[yellow]warning:[/yellow] --resolution is deprecated here: use --model-size")
        model_size = resolution
    started = time.perf_counter()
    config = arch.config(model_size)
    models = random_models(arch, config, dev, torch_dtype)
    setup_s = time.perf_counter() - started
    results = []
    for mode in modes:
        flops = count_step_flops(config.with_pile(latency_pile(config, mode)))
        results += [
            measure_backend(models, name, model="tiny" if tiny else "release", dtype=dtype, decoder=decoder, latency=mode,
                            iterations=iterations, setup_s=setup_s, step_flops=flops.total)[0]
            for name in backends
        ]
    _print_table(results)
    if as_json:
        payload = results[0].as_dict() if len(results) == 1 else [r.as_dict() for r in results]
        typer.echo(json.dumps(payload, indent=2))


def _print_table(results: list[BenchResult]) -> None:
    first = results[0]
    table = Table(title=f"RAIN stream, {first.model} {first.resolution}x{first.resolution} {first.dtype} on {first.device_name}")
    table.add_column("metric")
    for result in results:
        table.add_column(f"{result.backend} / {result.decoder} / {result.latency_mode}", justify="right")
    rows = [
        ("output fps", lambda r: f"{r.fps:.2f}"),
        ("iteration p50 / p99", lambda r: f"{r.iteration_ms_p50} / {r.iteration_ms_p99} ms"),
        ("latency: pile depth", lambda r: f"{r.latency_frames} frames"),
        ("latency: pile at output fps", lambda r: f"{r.pile_ms} ms"),
        ("push-to-frame compute latency p50 / p99", lambda r: f"{r.latency_ms_p50} / {r.latency_ms_p99} ms"),
        ("reference fusion", lambda r: f"{r.fuse_ms:.1f} ms"),
        ("setup (random weights)", lambda r: f"{r.setup_s:.1f} s"),
        ("compile / build", lambda r: f"{r.build_s:.1f} s"),
        ("peak CPU RSS", lambda r: f"{r.peak_rss_mib} MiB"),
        ("peak device memory", lambda r: f"{r.peak_device_mib} MiB" if r.peak_device_mib is not None else "-"),
        ("achieved TFLOP/s", lambda r: f"{r.tflops_per_s:.3f}"),
        ("of the compute limit", lambda r: f"{r.compute_fraction:.1%}" if r.compute_fraction is not None else "-"),
        ("timed iterations / frames", lambda r: f"{r.iterations} / {r.frames}"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for r in results))
    console.print(table)
