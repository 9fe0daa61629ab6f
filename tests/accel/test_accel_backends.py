"""Backend selection: auto picks what runs here, explicit choices fall back with a log line."""

from __future__ import annotations

import logging

import pytest
import torch

from rain_vtuber.accel.backends import (
    AcceleratedStream,
    accelerate,
    resolve_backend,
    unavailable_reason,
)
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.errors import RainError
from tests.accel.accel_fixtures import tiny_engine


def test_auto_on_cpu_is_the_eager_stream(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rain_vtuber.accel.backends"):
        assert resolve_backend("auto", "cpu") == "torch"
    assert "torch (eager) on cpu" in caplog.text


def test_tensorrt_falls_back_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    assert unavailable_reason("tensorrt", torch.device("cpu")) is not None
    with caplog.at_level(logging.WARNING, logger="rain_vtuber.accel.backends"):
        assert resolve_backend("tensorrt", "cpu") == "torch"
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "tensorrt is unavailable" in record.getMessage() and "CUDA" in record.getMessage()
    assert "falling back to torch" in record.getMessage()


def test_tensorrt_without_the_package_on_cuda(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CUDA machine without `tensorrt` the reason names the package (triton decides the next pick)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("tensorrt", "triton") else real(name, *a))
    with caplog.at_level(logging.WARNING, logger="rain_vtuber.accel.backends"):
        assert resolve_backend("tensorrt", "cuda") == "torch"
    assert "`tensorrt` package is not installed" in caplog.text


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(RainError, match="unknown backend 'onnx'"):
        resolve_backend("onnx", "cpu")


def test_accelerate_keeps_the_eager_stream_when_nothing_faster_runs(caplog: pytest.LogCaptureFixture) -> None:
    engine = tiny_engine()
    with caplog.at_level(logging.WARNING, logger="rain_vtuber.accel.backends"):
        assert accelerate(engine.stream, "tensorrt") is engine.stream
        engine.stream.decoder_kind = "vae"
        assert accelerate(engine.stream, "torch-compile") is engine.stream
    assert isinstance(engine.stream, RainStream)
    assert "decoder 'vae' runs on the eager torch backend" in caplog.text


def test_accelerate_wires_the_built_step_or_falls_back(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder is replaced here (compiling takes minutes; tests/accel/test_accel_compile.py does it)."""
    from rain_vtuber.accel import backends

    engine = tiny_engine()
    monkeypatch.setattr(backends, "build_step_fn", lambda name, step: step)  # the uncompiled fused step
    accelerated = accelerate(engine.stream, "torch-compile")
    assert isinstance(accelerated, AcceleratedStream) and accelerated.backend == "torch-compile"
    assert torch.equal(accelerated.runner.refs["guidance"], engine.stream.w_embedding)
    assert accelerated.noise is engine.stream.noise and not accelerated.runner.active

    def broken(name: str, step: object) -> None:
        raise RuntimeError("inductor exploded")

    monkeypatch.setattr(backends, "build_step_fn", broken)
    with caplog.at_level(logging.WARNING, logger="rain_vtuber.accel.backends"):
        assert accelerate(engine.stream, "torch-compile") is engine.stream
    assert "torch-compile failed to build (RuntimeError: inductor exploded); falling back to torch" in caplog.text
