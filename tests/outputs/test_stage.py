"""OutputStage: one paced, sized, keyed frame per period for every output; a stalled output stalls nobody."""

from __future__ import annotations

import threading
import time

import numpy as np

from rain_vtuber.outputs.base import FrameRate
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.stage import FrameQueue, OutputStage, to_output_rgba
from tests.outputs.recorders import Recorder
from tests.outputs.test_latency import _stamps
from tests.waiting import wait_until

SIZE = 32
GREEN = (0, 200, 0)


def scene(size: int = 64) -> np.ndarray:
    """A flat green background with a red square in the middle."""
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:] = GREEN
    rgb[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = (220, 30, 30)
    return rgb


def test_frame_queue_drops_oldest_beyond_capacity() -> None:
    queue = FrameQueue(max_frames=8)
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(12)]
    for start in range(0, 12, 4):
        queue.put_many(frames[start : start + 4], [_stamps(i) for i in range(start, start + 4)])
    assert queue.dropped == 4 and len(queue) == 8
    assert [queue.pop().stamps.captured for _ in range(8)] == list(range(4, 12))
    assert queue.pop() is None


def test_frames_are_resized_and_keyed_once_for_every_output() -> None:
    rgba = to_output_rgba(scene(), SIZE, SIZE, GREEN, tolerance=24)
    assert rgba.shape == (SIZE, SIZE, 4) and rgba.dtype == np.uint8
    assert tuple(rgba[16, 16]) == (220, 30, 30, 255) and tuple(rgba[1, 1]) == (0, 200, 0, 0)
    opaque = to_output_rgba(scene(16), SIZE, SIZE, None, tolerance=24)  # enlarged, nothing keyed
    assert (opaque[..., 3] == 255).all() and tuple(opaque[16, 16, :3]) == (220, 30, 30)


def _stage(*outputs: Recorder, fps: float = 50.0) -> tuple[OutputStage, threading.Event]:
    runners = {f"out{i}": OutputRunner(o, f"out{i}") for i, o in enumerate(outputs)}
    return OutputStage(runners, SIZE, fps), threading.Event()


def test_the_picture_shows_until_the_engine_frames_which_leave_one_per_period_with_their_capture_time() -> None:
    output = Recorder(width=SIZE, height=SIZE)
    stage, stop = _stage(output)
    stage.set_key(GREEN)
    stage.show_picture(scene())
    stage.start(stop)
    try:
        wait_until(lambda: len(output.frames) >= 5, 2.0)
        first = output.frames[0]
        assert first.captured_ns is None and not first.repeat and first.rgba[1, 1, 3] == 0
        assert all(f.repeat and f.sequence == first.sequence for f in output.frames[1:5])
        frames = [np.full((8, 8, 3), 10 * i, np.uint8) for i in range(1, 5)]
        began = time.monotonic()
        stage.deliver(frames, [_stamps(1000 + i) for i in range(4)])
        wait_until(lambda: any(f.captured_ns == 1003 for f in output.frames), 2.0)
        new = [f for f in output.frames if f.captured_ns is not None and not f.repeat]
        captured = [f.captured_ns for f in new]  # on a loaded machine the runner may drop one (newest wins)
        assert captured == sorted(set(captured)) and set(captured) <= {1000, 1001, 1002, 1003} and captured[-1] == 1003
        assert [int(f.rgba[0, 0, 0]) for f in new] == [10 * (c - 999) for c in captured]
        assert len(new) + stage.status()["out0"]["dropped"] >= 4 and stage.frames.dropped == 0
        assert time.monotonic() - began >= 3 * 0.02 * 0.8  # one per 20 ms period, never a burst
        wait_until(lambda: output.frames[-1].repeat, 1.0)
        assert output.frames[-1].captured_ns == 1003  # a repeat keeps its capture time
        assert stage.latency.p50() is not None
    finally:
        stop.set()
        stage.join(1.0)
        stage.close()


def test_a_stalled_output_does_not_slow_the_clock_or_another_output() -> None:
    stalled, healthy = Recorder(width=SIZE, height=SIZE), Recorder(width=SIZE, height=SIZE)
    stalled.gate.clear()
    stage, stop = _stage(stalled, healthy, fps=50.0)
    stage.show_picture(scene())
    stage.start(stop)
    try:
        time.sleep(1.0)
        status = stage.status()
        offered = status["out1"]["frames_written"] + status["out1"]["dropped"]
        assert offered >= 25  # the clock kept ticking (50 per second) with one output blocked
        assert status["out1"]["dropped"] <= 0.1 * offered  # the healthy one got (nearly) every frame
        assert status["out0"]["frames_written"] == 0 and status["out0"]["dropped"] >= offered - 3
    finally:
        stalled.gate.set()
        stop.set()
        stage.join(1.0)
        stage.close()


def test_the_rate_is_snapped_once_and_told_to_every_output() -> None:
    first, second = Recorder(width=SIZE, height=SIZE), Recorder(width=SIZE, height=SIZE)
    stage, stop = _stage(first, second, fps=15.0)
    stage.show_picture(scene())
    stage.start(stop)
    try:
        assert stage.set_rate(29.97) == FrameRate(30000, 1001)
        wait_until(lambda: first.rates[-1:] == second.rates[-1:] == [FrameRate(30000, 1001)], 2.0)
    finally:
        stop.set()
        stage.join(1.0)
        stage.close()
