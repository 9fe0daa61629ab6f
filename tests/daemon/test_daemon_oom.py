"""Out of memory, injected where the allocation fails (engine load / engine step) with the CPU
allocator's own error: at start a one-line error and a stop within 2 s; mid-stream NDI keeps
sending, memory is freed and the step retried."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rain_vtuber.daemon import daemon as lifecycle
from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.pipeline import Pipeline
from rain_vtuber.engine import RainEngine
from rain_vtuber.errors import RainError
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS
from tests.daemon.conftest import tiny_daemon_config

CPU_OOM = "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 2147483648 bytes."


def test_oom_while_loading_is_one_line_and_stops_within_2s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failed_at: list[float] = []

    def load(*args, **kwargs):
        failed_at.append(time.monotonic())
        raise RuntimeError(CPU_OOM)

    monkeypatch.setattr(RainEngine, "load", load)
    with pytest.raises(RainError) as info:
        lifecycle.run(tiny_daemon_config(tmp_path))
    assert time.monotonic() - failed_at[0] < 2.0
    message = str(info.value)
    assert "\n" not in message and "alloc_cpu" not in message
    assert message.startswith("out of memory while starting up (loading) on cpu: try a resolution below 128")


def test_oom_mid_stream_keeps_ndi_sending_frees_and_retries(tmp_path: Path, caplog) -> None:
    config = tiny_daemon_config(tmp_path, fps=20.0)
    registry = CharacterRegistry(config.characters_dir, config.calibration_dir, "alice")
    pipeline = Pipeline(config, registry, threading.Event())
    engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, device="cpu", dtype="fp32", cache_dir=None)
    engine.set_reference(engine.fuse_reference(registry.current.image))
    calls = {"ok": 0, "oom": 0}
    real_step = engine.step

    def step(poses: np.ndarray):  # the second and third steps run out of memory
        if calls["ok"] == 1 and calls["oom"] < 2:
            calls["oom"] += 1
            raise RuntimeError(CPU_OOM)
        out = real_step(poses)
        calls["ok"] += 1
        return out

    engine.step = step
    pipeline.engine, pipeline.state = engine, "running"
    poses = np.zeros((engine.group_size, engine.height, engine.width, 3), np.uint8)
    pipeline._spawn(pipeline._output_loop, "rain-ndi")
    pipeline._spawn(pipeline._engine_loop, "rain-engine")
    try:
        deadline = time.monotonic() + 300
        sent_during_oom = []
        while calls["ok"] < 3 and time.monotonic() < deadline:
            pipeline.groups.put((poses, [time.monotonic_ns()] * engine.group_size))
            if calls["oom"] and calls["ok"] == 1:
                sent_during_oom.append(pipeline.sender.frames_sent)
            time.sleep(0.05)
        assert calls == {"ok": 3, "oom": 2}, calls
        assert pipeline.stats()["out_of_memory"] == 2
        assert len(sent_during_oom) > 5 and sent_during_oom[-1] > sent_during_oom[0], "NDI stalled while out of memory"
    finally:
        pipeline.close()
    lines = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert lines and lines[0].startswith("out of memory while stepping on cpu: try a resolution below 128")
    assert "retrying in 0.5 s" in lines[0] and all("\n" not in line for line in lines)
