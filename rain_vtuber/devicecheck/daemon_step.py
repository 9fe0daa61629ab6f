"""Device-check step 5: the daemon pipeline on the speed step's engine, a VMC face in and NDI out, on loopback.

A synthetic VMC sender drives the face; an NDI receiver in this process watches the output as OBS
would. Figures are taken over `daemon_seconds` once the stream runs: frames received and their rate,
face-to-receiver latency from each frame's timecode (its face's capture time), and the daemon's own
status (output fps, dropped frames, latency p50/p95 of its last seconds).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from rain_vtuber.utils.ports import free_port
from rain_vtuber.utils.stats import percentile
from rain_vtuber.devicecheck.context import CheckContext
from rain_vtuber.devicecheck.report import Record, StepClock

NDI_FIND_S = 30.0


def daemon(ctx: CheckContext, record: Record, clock: StepClock) -> str:
    from rain_vtuber.daemon.config import DaemonConfig
    from rain_vtuber.daemon.daemon import Daemon
    from rain_vtuber.daemon.soak import VmcSender, make_demo_characters
    from rain_vtuber.engine import RainEngine
    from rain_vtuber.outputs.ndi_receiver import NdiProbe

    engine = ctx.stream_engine or RainEngine(ctx.models(), cache_dir=None)
    port, name = free_port(), f"rain-device-check-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="rain-device-check-") as tmp:
        characters, calibration = make_demo_characters(Path(tmp), {"check": (30, 160, 90)})
        config = DaemonConfig(
            characters_dir=characters, calibration_dir=calibration, character="check", device=str(ctx.device),
            dtype=ctx.dtype, backend=engine.backend, source={"kind": "vmc", "host": "127.0.0.1", "port": port},
            output_size=engine.height, outputs=[{"kind": "ndi", "ndi_name": name}], log_file=None,
            state_file=Path(tmp) / "state.json",
        )
        stop = threading.Event()
        daemon = Daemon(config, stop, engine=engine)
        sender = VmcSender(port).start()
        try:
            daemon.pipeline.start()
            started = time.perf_counter()
            daemon.pipeline.wait_streaming(clock.left() - ctx.daemon_seconds)
            record["startup_s"] = round(time.perf_counter() - started, 1)
            probe = NdiProbe(name, NDI_FIND_S)
            try:
                before = daemon.status()
                frames = probe.capture_timecodes(ctx.daemon_seconds)
                after = daemon.status()
            finally:
                probe.close()
        finally:
            sender.stop()
            daemon.pipeline.close()
    record.update(_figures(frames, before, after, ctx.daemon_seconds), backend=engine.backend,
                  vmc_bundles_sent=sender.sent)
    if not frames:
        raise RuntimeError(f"no NDI frame arrived in {ctx.daemon_seconds:g} s")
    return (f"{record['received_fps']} fps received ({record['daemon_output_fps']} sent), "
            f"{record['dropped_frames']} dropped, latency p50/p95 {record['latency_ms_p50']}/{record['latency_ms_p95']} ms")


def _figures(frames: list[tuple[int, int, tuple[int, int]]], before: Record, after: Record, seconds: float) -> Record:
    """Receiver-side rate and latency over the window, with the daemon's status around it."""
    arrivals = np.array([wall for wall, _, _ in frames], dtype=np.int64)
    latency_ms = [(wall - code * 100) / 1e6 for wall, code, _ in frames]  # timecode: capture time, 100 ns units
    span_s = (arrivals[-1] - arrivals[0]) / 1e9 if len(frames) > 1 else 0.0
    total = after["latency"]["total_ms"]
    return {
        "seconds": seconds,
        "received_frames": len(frames),
        "received_fps": round((len(frames) - 1) / span_s, 2) if span_s else 0.0,
        "latency_ms_p50": percentile(latency_ms, 50),
        "latency_ms_p95": percentile(latency_ms, 95),
        "dropped_frames": after["dropped_frames"] - before["dropped_frames"],
        "daemon_fps_target": after["fps_target"],
        "daemon_output_fps": after["output_fps"],
        "daemon_engine_fps": after["engine_fps"],
        "daemon_latency_ms_p50": total["p50"],
        "daemon_latency_ms_p95": total["p95"],
        "source_state": after["source"]["state"],
    }
