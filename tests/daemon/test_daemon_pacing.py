"""Pacing parts on the real monotonic clock (and a manual clock where timing must be exact)."""

from __future__ import annotations

import threading
import time

import numpy as np

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.pacing import (
    STAGES, FrameQueue, FrameStamps, LatencyMeter, RateMeter, Slot, Ticker, sustainable_fps
)


def test_ticker_spaces_ticks_evenly() -> None:
    ticker, stop = Ticker(50), threading.Event()
    times = []
    for _ in range(25):
        assert ticker.wait(stop)
        times.append(time.monotonic())
    gaps = np.diff(times)
    assert abs(float(np.mean(gaps)) - 0.02) < 0.003
    assert ticker.resets == 0


def test_ticker_resets_after_a_stall_instead_of_bursting() -> None:
    ticker, stop = Ticker(50, drift_reset=5), threading.Event()
    assert ticker.wait(stop)
    time.sleep(0.5)  # 25 periods behind
    times = []
    for _ in range(4):
        assert ticker.wait(stop)
        times.append(time.monotonic())
    assert ticker.resets == 1
    # one tick at once, then back to the 20 ms rhythm: no burst of 25 catch-up ticks
    assert min(np.diff(times)) > 0.012


def test_ticker_wait_returns_false_on_stop() -> None:
    ticker, stop = Ticker(1), threading.Event()
    threading.Timer(0.05, stop.set).start()
    start = time.monotonic()
    assert not ticker.wait(stop)
    assert time.monotonic() - start < 0.5


def test_frame_queue_drops_oldest_beyond_capacity() -> None:
    queue = FrameQueue(max_frames=8)
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(12)]
    for start in range(0, 12, 4):
        queue.put_many(frames[start : start + 4], [_stamps(i) for i in range(start, start + 4)])
    assert queue.dropped == 4 and len(queue) == 8
    assert [queue.pop().stamps.captured for _ in range(8)] == list(range(4, 12))
    assert queue.pop() is None


def test_slot_newest_wins_and_counts_drops() -> None:
    slot = Slot()
    assert not slot.put("a")
    assert slot.put("b")
    assert slot.dropped == 1
    assert slot.get(timeout=0.01) == "b"
    assert slot.get(timeout=0.01) is None
    threading.Timer(0.05, slot.put, args=("c",)).start()
    assert slot.get(timeout=2.0) == "c"


def _stamps(captured: int, decoding: int | None = None) -> FrameStamps:
    ms = 1_000_000
    return FrameStamps(captured, captured + 2 * ms, captured + 40 * ms, 16, captured + 400 * ms, decoding,
                       captured + 500 * ms)


def test_stamps_split_the_total_into_consecutive_stages() -> None:
    ms = 1_000_000
    stages = _stamps(0, decoding=470 * ms).stages_ms(520 * ms, 521 * ms)
    assert tuple(stages) == STAGES
    assert stages == {"capture_to_pose_ms": 2, "group_wait_ms": 38, "pile_ms": 360, "pile_frames": 16,
                      "engine_step_ms": 70, "decode_ms": 30, "pacing_ms": 20, "ndi_send_ms": 1, "total_ms": 521}
    fused = _stamps(0).stages_ms(520 * ms, 521 * ms)  # a fused step decodes inside: step includes it
    assert fused["decode_ms"] is None and fused["engine_step_ms"] == 100 and fused["total_ms"] == 521


def test_latency_meter_keeps_the_last_seconds_per_stage() -> None:
    ms = 1_000_000
    clock = [0]
    meter = LatencyMeter(window_s=5.0, clock_ns=lambda: clock[0])
    assert meter.p50() is None and meter.summary()["total_ms"] == {"p50": None, "p95": None}
    for i, extra in enumerate([0] * 19 + [1000]):  # one slow send among 20
        sent = 600 * ms + i * 100 * ms
        clock[0] = sent + extra * ms
        meter.add(_stamps(sent - 600 * ms), sent - 100 * ms, sent + extra * ms)
    summary = meter.summary()
    assert set(summary) == set(STAGES) and summary["decode_ms"] == {"p50": None, "p95": None}
    assert meter.p50() == 600.0 and summary["total_ms"]["p95"] > 600.0  # the slow one shows in p95 only
    assert summary["pile_frames"] == {"p50": 16.0, "p95": 16.0} and summary["pacing_ms"]["p50"] == 0.0
    clock[0] += 6_000 * ms  # nothing sent for longer than the window
    assert meter.p50() is None


def test_rate_meter() -> None:
    now = [0.0]
    rate = RateMeter(window_s=2.0, clock=lambda: now[0])
    for i in range(40):
        now[0] = i * 0.25
        rate.tick()
    assert rate.rate() == 4.5  # 9 ticks in the 2 s up to 9.75 s
    now[0] = 20.0
    assert rate.rate() == 0.0


def test_sustainable_fps() -> None:
    assert sustainable_fps([0.2, 0.25, 0.2], group_size=4, headroom=0.85, max_fps=30) == 17.0
    assert sustainable_fps([0.01], group_size=4, headroom=0.85, max_fps=30) == 30.0
    assert sustainable_fps([20.0], group_size=4, headroom=0.85, max_fps=30) == 1.0
    assert sustainable_fps([0.01], group_size=4, headroom=0.85, max_fps=DaemonConfig().max_fps) == 60.0
