"""Soak benchmark: run the daemon pipeline for a while and sample RSS and latency (they must stay flat).

    python -m rain_vtuber.daemon.soak --seconds 600 --weights W --engine-config C

A synthetic VMC sender drives the face, so nothing but the engine, the pipeline and NDI is measured.
Also home of the small fixtures the daemon tests share with it (VMC sender, demo characters).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.daemon import Daemon, exit_process
from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, save_calibration


class VmcSender:
    """Streams a nodding, talking head as VMC bundles (Head bone + blend shapes + Apply) from a thread."""

    def __init__(self, port: int, rate_hz: float = 30.0, host: str = "127.0.0.1") -> None:
        self.port, self.rate_hz, self.host = port, rate_hz, host
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def bundle(self, t: float) -> bytes:
        yaw, pitch = 15 * math.sin(t * 1.3), 8 * math.sin(t * 0.7)
        cy, sy = math.cos(math.radians(yaw) / 2), math.sin(math.radians(yaw) / 2)
        cp, sp = math.cos(math.radians(pitch) / 2), math.sin(math.radians(pitch) / 2)
        quat = (sp * cy, cp * sy, -sp * sy, cp * cy)  # pitch about x, then yaw about y
        builder = OscBundleBuilder(IMMEDIATELY)
        messages: list[tuple[str, list[Any]]] = [
            ("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0, 0.0, *quat]),
            ("/VMC/Ext/Blend/Val", ["JawOpen", 0.5 + 0.5 * math.sin(t * 5)]),
            ("/VMC/Ext/Blend/Val", ["EyeBlinkLeft", 1.0 if (t % 3) < 0.15 else 0.0]),
            ("/VMC/Ext/Blend/Val", ["EyeBlinkRight", 1.0 if (t % 3) < 0.15 else 0.0]),
            ("/VMC/Ext/Blend/Apply", []),
        ]
        for address, args in messages:
            msg = OscMessageBuilder(address)
            for arg in args:
                msg.add_arg(arg)
            builder.add_content(msg.build())
        return builder.build().dgram

    def start(self) -> "VmcSender":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vmc-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        start = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not self._stop.wait(1 / self.rate_hz):
                sock.sendto(self.bundle(time.monotonic() - start), (self.host, self.port))
                self.sent += 1


def make_demo_characters(root: Path, names: dict[str, tuple[int, int, int]]) -> tuple[Path, Path]:
    """Write characters/<name>/reference.png (a simple face on a flat background) + calibration/<name>.yaml.

    names: character -> background RGB. Returns (characters_dir, calibration_dir).
    """
    characters, calibration = root / "characters", root / "calibration"
    for i, (name, background) in enumerate(names.items()):
        img = Image.new("RGB", (256, 320), background)
        draw = ImageDraw.Draw(img)
        skin = (250, 220, 200)
        hair = ((80, 50, 160), (200, 120, 40), (40, 40, 40))[i % 3]
        draw.ellipse((48, 40, 208, 230), fill=hair)
        draw.ellipse((68, 80, 188, 230), fill=skin)
        for x in (98, 158):
            draw.ellipse((x - 14, 130, x + 14, 160), fill=(40, 90, 200))
        draw.arc((108, 170, 148, 200), 20, 160, fill=(180, 60, 60), width=4)
        draw.rectangle((78, 230, 178, 320), fill=hair)
        (characters / name).mkdir(parents=True, exist_ok=True)
        img.save(characters / name / "reference.png")
        save_calibration(Calibration(), calibration / f"{name}.yaml")
    return characters, calibration


RSS_POLL_S = 0.25
STARTUP_TIMEOUT_S = 300.0  # loading, fusing, warming up and filling the pile


def rss_mb() -> float:
    """Resident memory of this process in MiB (current on Linux, peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def rss_over(stop: threading.Event, seconds: float) -> tuple[float, float] | None:
    """Lowest and highest RSS polled over `seconds` (None once `stop` is set).

    The lowest is the leak signal: each engine step allocates scratch tensors and frees them, so a
    single reading lands on a step's peak or between steps by chance (tens of MiB apart).
    """
    readings: list[float] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        readings.append(rss_mb())
        if stop.wait(min(RSS_POLL_S, left)):
            return None
    return min(readings), max(readings + [rss_mb()])


def soak(config: DaemonConfig, seconds: float, interval: float, vmc_port: int) -> list[dict[str, Any]]:
    """Run the pipeline for `seconds` once it is streaming; one sample every `interval` s."""
    stop = threading.Event()
    daemon = Daemon(config, stop)
    sender = VmcSender(vmc_port).start()
    samples: list[dict[str, Any]] = []
    try:
        daemon.pipeline.start()
        try:
            daemon.pipeline.wait_streaming(STARTUP_TIMEOUT_S)
        except RainError as err:
            raise SystemExit(str(err)) from None
        start = time.monotonic()
        while (rss := rss_over(stop, interval)) is not None:
            status = daemon.status()
            samples.append({
                "t_s": round(time.monotonic() - start, 1),
                "rss_floor_mb": round(rss[0], 1),
                "rss_peak_mb": round(rss[1], 1),
                "latency_ms_p50": status["latency_ms_p50"],
                "output_fps": status["output_fps"],
                "engine_fps": status["engine_fps"],
                "dropped_frames": status["dropped_frames"],
                "source": status["source"]["state"],
            })
            print(json.dumps(samples[-1]), flush=True)
            if time.monotonic() - start >= seconds:
                break
    finally:
        sender.stop()
        daemon.pipeline.close()
    return samples


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if r[key] is not None]
    return round(float(np.mean(values)), 1) if values else float("nan")


def windows(samples: list[dict[str, Any]], seconds: float = 600) -> list[dict[str, Any]]:
    """Per `seconds` of the run (10 minutes by default): RSS, latency, fps and frames dropped in it."""
    out: list[dict[str, Any]] = []
    dropped_before = 0
    for start in np.arange(0, (samples[-1]["t_s"] if samples else 0) + 1e-9, seconds):
        rows = [r for r in samples if start < r["t_s"] <= start + seconds]
        if not rows:
            continue
        out.append({
            "from_s": int(start), "to_s": int(rows[-1]["t_s"]), "rss_floor_mb": _mean(rows, "rss_floor_mb"),
            "rss_peak_mb": max(r["rss_peak_mb"] for r in rows), "latency_ms_p50": _mean(rows, "latency_ms_p50"),
            "output_fps": _mean(rows, "output_fps"), "dropped_frames": rows[-1]["dropped_frames"] - dropped_before,
        })
        dropped_before = rows[-1]["dropped_frames"]
    return out


def trend_problems(samples: list[dict[str, Any]], max_rss_growth_mb: float, max_latency_ratio: float) -> list[str]:
    """Why the run is not flat (empty when it is): RSS floor or latency in the last third vs the first third."""
    s = summary(samples)
    problems = []
    if not s["rss_floor_mb_last_third"] - s["rss_floor_mb_first_third"] <= max_rss_growth_mb:
        problems.append(f"RSS floor grew {s['rss_floor_mb_first_third']} -> {s['rss_floor_mb_last_third']} MiB "
                        f"(> {max_rss_growth_mb})")
    if not s["latency_ms_last_third"] <= max_latency_ratio * s["latency_ms_first_third"]:
        problems.append(f"latency grew {s['latency_ms_first_third']} -> {s['latency_ms_last_third']} ms "
                        f"(> x{max_latency_ratio})")
    return problems


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """First vs last thirds: how far RSS and latency moved over the run."""
    third = max(1, len(samples) // 3)
    head, tail = samples[:third], samples[-third:]
    return {
        "samples": len(samples),
        "rss_floor_mb_first_third": _mean(head, "rss_floor_mb"), "rss_floor_mb_last_third": _mean(tail, "rss_floor_mb"),
        "rss_peak_mb": max((r["rss_peak_mb"] for r in samples), default=float("nan")),
        "latency_ms_first_third": _mean(head, "latency_ms_p50"), "latency_ms_last_third": _mean(tail, "latency_ms_p50"),
        "output_fps_mean": _mean(samples, "output_fps"), "engine_fps_mean": _mean(samples, "engine_fps"),
        "dropped_frames_total": samples[-1]["dropped_frames"] if samples else 0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--engine-config", type=Path)
    parser.add_argument("--fps", type=float, help="output fps (default: measured)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output-size", type=int, default=128, help="output size (NDI)")
    parser.add_argument("--vmc-port", type=int, default=39599)
    parser.add_argument("--ndi-name", default="RAIN soak", help="NDI source name (one per running soak)")
    parser.add_argument("--window", type=float, default=600, help="seconds per row of the windowed summary")
    parser.add_argument("--json-out", type=Path, help="also write samples, windows and summary here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rain-soak-") as tmp:
        characters, calibration = make_demo_characters(Path(tmp), {"soak": (30, 160, 90)})
        config = DaemonConfig(
            weights=args.weights, engine_config=args.engine_config, characters_dir=characters,
            calibration_dir=calibration, character="soak", device=args.device, fps=args.fps,
            source={"kind": "vmc", "host": "127.0.0.1", "port": args.vmc_port}, output_size=args.output_size,
            outputs=[{"kind": "ndi", "ndi_name": args.ndi_name}], log_file=None,
        )
        samples = soak(config, args.seconds, args.interval, args.vmc_port)
    report = {"summary": summary(samples), "windows": windows(samples, args.window)}
    print(json.dumps(report, indent=2))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps({**report, "samples": samples}, indent=1))
    exit_process(0)


if __name__ == "__main__":
    main()
