"""NdiOutput behind its runner, against a real NDI receiver on loopback."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.ndi import NdiOutput, NdiSettings, timecode
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.stage import to_output_rgba
from tests.outputs.test_stage import GREEN, scene
from tests.waiting import wait_until


def _runner(name: str, size: int, fps: float, fmt: str = "bgra") -> tuple[NdiOutput, OutputRunner]:
    output = NdiOutput(NdiSettings(ndi_name=name, format=fmt), size, size, FrameRate.nearest(fps))  # type: ignore[arg-type]
    runner = OutputRunner(output, "ndi")
    runner.start()
    wait_until(lambda: runner.state == "running", 10.0, what="the NDI source to open")
    return output, runner


@contextmanager
def pumping(runner: OutputRunner, frame: OutputFrame, fps: float) -> Iterator[None]:
    """Offer `frame` (then its repeats) at `fps` in the background while the block runs, as the stage does."""
    stop = threading.Event()

    def pump() -> None:
        runner.offer(frame)
        while not stop.wait(1.0 / fps):
            runner.offer(OutputFrame(frame.rgba, frame.captured_ns, frame.sequence, repeat=True))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_frames_arrive_with_size_rate_colours_and_alpha(ndi_probe) -> None:
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    output, runner = _runner(name, 64, 20)
    try:
        frame = OutputFrame(to_output_rgba(scene(), 64, 64, GREEN, 24), None, 1)
        with pumping(runner, frame, 20):
            frames = ndi_probe(name).capture(1.5)
    finally:
        runner.close()
    assert len(frames) >= 10
    _, bgra, rate = frames[-1]
    assert bgra.shape == (64, 64, 4) and rate == (20, 1)
    centre, corner = bgra[32, 32], bgra[2, 2]
    assert abs(int(centre[2]) - 220) < 12 and abs(int(centre[1]) - 30) < 12 and centre[3] == 255  # red, as BGRA
    assert corner[3] == 0  # keyed out by the stage, carried by bgra
    assert runner.status()["state"] == "closed"


def test_bgrx_is_opaque_and_close_removes_the_source(ndi_probe) -> None:
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    output, runner = _runner(name, 32, 25, fmt="bgrx")
    frame = OutputFrame(to_output_rgba(np.full((32, 32, 3), 90, np.uint8), 32, 32, (90, 90, 90), 0), None, 1)
    try:
        with pumping(runner, frame, 25):
            probe = ndi_probe(name)
            frames = probe.capture(1.0)
            assert len(frames) >= 10
            assert all(f.shape == (32, 32, 4) and abs(int(f[8, 8, 0]) - 90) < 8 and f[8, 8, 3] == 255
                       for _, f, _ in frames)  # keyed out, yet opaque: bgrx carries no alpha
            assert output.connections() >= 1 and runner.status()["connections"] >= 1
    finally:
        runner.close()
    runner.close()  # idempotent
    assert probe.capture(0.8) == []


def test_timecode_is_the_capture_time_on_repeats_too_and_the_ntsc_rate_arrives(ndi_probe) -> None:
    """The receiver sees the capture time (UTC, 100 ns) as timecode, on repeats too, and 60000/1001."""
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    output, runner = _runner(name, 32, 59.94)
    assert output.rate == FrameRate(60000, 1001)
    rgba = to_output_rgba(np.full((32, 32, 3), 90, np.uint8), 32, 32, None, 0)
    try:
        probe = ndi_probe(name)
        captured = time.monotonic_ns() - 250_000_000  # a face seen 250 ms ago
        expected = timecode(captured)
        with pumping(runner, OutputFrame(rgba, captured, 1), 59.94):
            frames = [f for f in probe.capture_timecodes(1.0) if abs(f[1] - expected) < 10_000]  # within 1 ms
        with pumping(runner, OutputFrame(rgba, None, 2), 59.94):  # no capture time (the character's picture)
            synthesized = probe.capture_timecodes(0.5)  # NDI stamps the send time
    finally:
        runner.close()
    assert len(frames) >= 10, "the capture timecode did not arrive on the sent frame and its repeats"
    assert {rate for _, _, rate in frames} == {(60000, 1001)}
    first_arrival_ms = (frames[0][0] - expected * 100) / 1e6
    assert 250 <= first_arrival_ms < 400, first_arrival_ms
    now = time.time_ns() // 100
    assert synthesized and all(abs(now - tc) < 20_000_000 for _, tc, _ in synthesized[-5:])  # within 2 s of now


def test_frames_resume_when_the_receiver_goes_away_and_comes_back(ndi_probe) -> None:
    """OBS closes the NDI source and opens it again: the output notices and the new receiver gets frames."""
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    output, runner = _runner(name, 32, 25, fmt="bgrx")
    frame = OutputFrame(to_output_rgba(np.full((32, 32, 3), 60, np.uint8), 32, 32, None, 0), None, 1)
    try:
        with pumping(runner, frame, 25):
            first = ndi_probe(name)
            assert len(first.capture(1.0)) >= 10
            wait_until(lambda: output.connections() >= 1, 10)
            first.close()
            wait_until(lambda: output.connections() == 0, 10, what="the output to drop the closed receiver")
            sent = output.frames_sent
            wait_until(lambda: output.frames_sent > sent + 10, 5, what="sending to go on with nobody watching")
            frames = ndi_probe(name).capture(1.0)
            assert len(frames) >= 10 and all(abs(int(f[8, 8, 0]) - 60) < 8 for _, f, _ in frames)
            assert output.connections() >= 1
    finally:
        runner.close()
