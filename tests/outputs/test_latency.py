"""Latency stamps split a frame's time into consecutive stages; the meter keeps p50/p95 of the last seconds."""

from __future__ import annotations

from rain_vtuber.outputs.latency import STAGES, FrameStamps, LatencyMeter


def _stamps(captured: int, decoding: int | None = None) -> FrameStamps:
    ms = 1_000_000
    return FrameStamps(captured, captured + 2 * ms, captured + 40 * ms, 16, captured + 400 * ms, decoding,
                       captured + 500 * ms)


def test_stamps_split_the_total_into_consecutive_stages() -> None:
    ms = 1_000_000
    stages = _stamps(0, decoding=470 * ms).stages_ms(520 * ms, 521 * ms)
    assert tuple(stages) == STAGES
    assert stages == {"capture_to_pose_ms": 2, "group_wait_ms": 38, "pile_ms": 360, "pile_frames": 16,
                      "engine_step_ms": 70, "decode_ms": 30, "pacing_ms": 20, "output_ms": 1, "total_ms": 521}
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
