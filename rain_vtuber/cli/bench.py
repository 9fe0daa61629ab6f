"""`rain-vtuber bench`: stream speed on random weights of the release architecture (no download) or --tiny."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from rain_vtuber.cli.common import BackendOpt, DeviceOpt, DtypeOpt, console
from rain_vtuber.errors import RainError

if TYPE_CHECKING:
    from rain_vtuber.benchmark import BenchResult

BACKENDS = ("auto", "torch")  # accelerated backends plug in here


def bench(
    tiny: Annotated[bool, typer.Option("--tiny", help="The tiny test architecture (128x128) instead of the release.")] = False,
    resolution: Annotated[
        Optional[int], typer.Option("--resolution", help="Square model resolution in pixels, a multiple of 64 (default 512, tiny 128).")
    ] = None,
    dtype: DtypeOpt = "auto",
    device: DeviceOpt = "auto",
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Timed iterations after the warm-up.")] = 8,
    backend: BackendOpt = "torch",
    decoder: Annotated[str, typer.Option("--decoder", help="taesdv (real-time) or vae (SD VAE).")] = "taesdv",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Measure output fps, iteration time, push-to-frame latency and peak memory."""
    import torch

    from rain_vtuber import benchmark
    from rain_vtuber.engine import RainEngine
    from rain_vtuber.model.random_release import Architecture, random_models
    from rain_vtuber.model.release import parse_dtype

    if backend not in BACKENDS:
        raise RainError(f"bench supports --backend {' or '.join(BACKENDS)}, got {backend!r}")
    if decoder not in ("taesdv", "vae"):
        raise RainError(f"--decoder must be taesdv or vae, got {decoder!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RainError(f"--device {device}: CUDA is not available in this torch build")
    dtype = ("fp16" if dev.type == "cuda" else "fp32") if dtype == "auto" else dtype
    torch_dtype = parse_dtype(dtype)
    arch = Architecture.tiny() if tiny else Architecture.release()

    started = time.perf_counter()
    config = arch.config(resolution)
    models = random_models(arch, config, dev, torch_dtype)
    engine = RainEngine(models, decoder=decoder, cache_dir=None)
    setup_s = time.perf_counter() - started
    image = torch.randint(0, 256, (config.height, config.width, 3), dtype=torch.uint8).numpy()
    started = time.perf_counter()
    engine.set_reference(engine.fuse_reference(image))
    fuse_ms = (time.perf_counter() - started) * 1e3
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    timings = benchmark.time_stream(engine, iterations)

    result = benchmark.BenchResult(
        model="tiny" if tiny else "release",
        resolution=config.height,
        dtype=dtype,
        device=str(dev),
        device_name=benchmark.device_name(dev),
        backend="torch",
        decoder=decoder,
        iterations=iterations,
        frames=timings.frames,
        setup_s=round(setup_s, 2),
        fuse_ms=round(fuse_ms, 1),
        fps=round(timings.fps, 2),
        iteration_ms_p50=benchmark.percentile(timings.iteration_ms, 50),
        iteration_ms_p99=benchmark.percentile(timings.iteration_ms, 99),
        latency_ms_p50=benchmark.percentile(timings.latency_ms, 50),
        latency_ms_p99=benchmark.percentile(timings.latency_ms, 99),
        peak_rss_mib=_round(benchmark.peak_rss_mib()),
        peak_device_mib=_round(torch.cuda.max_memory_allocated(dev) / 2**20) if dev.type == "cuda" else None,
        torch_version=torch.__version__,
        torch_threads=torch.get_num_threads(),
    )
    _print_table(result)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _print_table(result: BenchResult) -> None:
    table = Table(title=f"RAIN stream, {result.model} {result.resolution}x{result.resolution} {result.dtype} on {result.device_name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("output fps", f"{result.fps:.2f}"),
        ("iteration p50 / p99", f"{result.iteration_ms_p50} / {result.iteration_ms_p99} ms"),
        ("push-to-frame latency p50 / p99", f"{result.latency_ms_p50} / {result.latency_ms_p99} ms"),
        ("reference fusion", f"{result.fuse_ms:.1f} ms"),
        ("setup (random weights)", f"{result.setup_s:.1f} s"),
        ("peak CPU RSS", f"{result.peak_rss_mib} MiB"),
        ("peak device memory", f"{result.peak_device_mib} MiB" if result.peak_device_mib is not None else "-"),
        ("timed iterations / frames", f"{result.iterations} / {result.frames}"),
        ("backend / decoder", f"{result.backend} / {result.decoder}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
