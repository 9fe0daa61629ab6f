"""Out of memory, injected where the allocation fails (engine load / engine step) with the CPU
allocator's own error: at start a one-line error and a stop within 2 s; mid-stream the outputs keep
sending, memory is freed and the step retried."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rain_vtuber.daemon import daemon as lifecycle
from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.engine_worker import EngineWorker
from rain_vtuber.daemon.oom import oom_message
from rain_vtuber.daemon.sampler import PoseGroup
from rain_vtuber.engine import RainEngine
from rain_vtuber.errors import RainError
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.stage import OutputStage
from rain_vtuber.utils.slot import Slot
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS
from tests.daemon.conftest import tiny_daemon_config
from tests.outputs.recorders import Recorder
from tests.waiting import wait_until

CPU_OOM = "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 2147483648 bytes."


@pytest.mark.e2e  # the daemon's own start-up (lifecycle.run), stopped at loading
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
    assert message.startswith("out of memory while starting up (loading) on cpu: try model_size: 64 (RAIN runs at 128 now)")


def test_oom_mid_stream_keeps_the_outputs_sending_frees_and_retries(tmp_path: Path, caplog) -> None:
    config = tiny_daemon_config(tmp_path, fps=20.0)
    registry = CharacterRegistry(config.characters_dir, config.calibration_dir, "alice")
    engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, device="cpu", dtype="fp32", cache_dir=None)
    engine.set_reference(engine.fuse_reference(registry.current.image))
    calls = {"ok": 0, "oom": 0}
    real_step = engine.step

    def step(poses: np.ndarray, tag: object = None):  # the second and third steps run out of memory
        if calls["ok"] == 1 and calls["oom"] < 2:
            calls["oom"] += 1
            raise RuntimeError(CPU_OOM)
        out = real_step(poses, tag)
        calls["ok"] += 1
        return out

    engine.step = step  # type: ignore[method-assign]
    output = Recorder(width=config.output_size, height=config.output_size)
    stage, stop = OutputStage({"out": OutputRunner(output, "out")}, config.output_size, 20.0), threading.Event()
    stage.show_picture(registry.current.image)
    worker = EngineWorker(engine, Slot(), stage, oom_message("stepping", "cpu", "fp32", engine.height))
    poses = np.zeros((engine.group_size, engine.height, engine.width, 3), np.uint8)
    stage.start(stop)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        sent_during_oom = []

        def feed() -> None:
            worker.groups.put(PoseGroup(poses, [(time.monotonic_ns(), time.monotonic_ns())] * engine.group_size))
            if calls["oom"] and calls["ok"] == 1:
                sent_during_oom.append(len(output.frames))

        wait_until(lambda: calls["ok"] >= 3, 300, poll_s=0.05, tick=feed, what=lambda: f"three good steps (calls: {calls})")
        assert calls == {"ok": 3, "oom": 2}, calls
        assert worker.oom_count == 2
        assert len(sent_during_oom) > 5 and sent_during_oom[-1] > sent_during_oom[0], "the outputs stalled while out of memory"
    finally:
        stop.set()
        thread.join(5)
        stage.join(1)
        stage.close()
    lines = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert lines and lines[0].startswith("out of memory while stepping on cpu: try model_size: 64 (RAIN runs at 128 now)")
    assert "retrying in 0.5 s" in lines[0] and all("\n" not in line for line in lines)
