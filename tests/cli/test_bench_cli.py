"""`rain-vtuber bench --tiny` end to end on this CPU: real engine, random tiny weights, JSON out."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from rain_vtuber.cli.bench import bench
from rain_vtuber.errors import RainError

app = typer.Typer()
app.command()(bench)


@app.command()
def _other() -> None:  # a second command keeps `bench` a named subcommand, as in the real CLI
    pass


@pytest.mark.slow  # a benchmark run of the tiny stream
def test_bench_tiny_reports_speed_latency_and_memory() -> None:
    result = CliRunner().invoke(app, ["bench", "--tiny", "--iterations", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "tiny" and report["resolution"] == 128 and report["device"] == "cpu"
    assert report["frames"] == 3 * 4  # every steady-state iteration emits a group of 4 frames
    assert report["fps"] > 0 and report["iteration_ms_p50"] > 0
    # a frame waits for the iterations until its group is clean: several iterations' worth
    assert report["latency_ms_p50"] > 2 * report["iteration_ms_p50"]
    assert report["peak_rss_mib"] > 100
    assert "output fps" in result.stderr


@pytest.mark.slow  # a benchmark run per latency mode
def test_bench_reports_latency_in_frames_and_ms_per_mode() -> None:
    result = CliRunner().invoke(app, ["bench", "--tiny", "--iterations", "2", "--latency", "all", "--json"])
    assert result.exit_code == 0, result.output
    standard, low = json.loads(result.stdout)
    assert (standard["latency_mode"], standard["latency_frames"], standard["frames"]) == ("standard", 16, 2 * 4)
    assert (low["latency_mode"], low["latency_frames"], low["frames"]) == ("low", 8, 2 * 2)
    for report in (standard, low):
        assert report["pile_ms"] == pytest.approx(report["latency_frames"] * 1000 / report["fps"], rel=0.05)  # fps rounded
    assert "pile depth" in result.stderr and "low" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--backend", "onnx"], "backend"), (["--model-size", "100"], "multiple of 64"), (["--dtype", "fp8"], "dtype"),
     (["--latency", "turbo"], "unknown latency mode 'turbo'")],
)
def test_bench_rejects_bad_options_before_building(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["bench", "--tiny", *args])
    assert isinstance(result.exception, RainError)
    assert message in str(result.exception)


@pytest.mark.slow  # a benchmark run of the tiny stream
def test_bench_unavailable_backend_falls_back_and_says_so() -> None:
    """TensorRT needs CUDA: on this CPU the run falls back to eager torch and reports what ran."""
    result = CliRunner().invoke(app, ["bench", "--tiny", "--iterations", "1", "--backend", "tensorrt", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["backend"] == "torch" and report["build_s"] == 0.0 and report["tflops_per_s"] > 0  # nothing built
    assert report["compute_fraction"] is None  # no known peak for a CPU
