"""Benchmark of the browser output: output stage -> painted canvas latency and CPU per frame.

Feeds frames to a BrowserOutput (behind its OutputRunner, as the daemon runs it) at a fixed rate
while one headless Chromium (Debian's) shows the page, then prints a markdown table: the hand-over
from the stage's offer to the output's write() (the runner's slot), the latency p50/p95 from write()
to the page's paint answer (the last 600 frames), the CPU time of the output's two threads per frame
(the daemon's share), and Chromium's CPU per frame (all its processes).

Chromium runs on its own, not under Playwright: Playwright's DevTools connection copies every
WebSocket message (base64) to its driver, which costs the browser more than the page does.

    PYTHONPATH=. python scripts/bench_browser_output.py --size 512 --fps 30 60 --seconds 20

Needs `apt-get install -y chromium`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.browser import BrowserOutput, BrowserSettings
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.utils.ports import free_port
from tests.browser_viewers import CHROMIUM

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(stat_path: Path) -> float:
    """utime + stime of a /proc .../stat file, in seconds (fields 14 and 15, after the command name)."""
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _threads_cpu_s(names: tuple[str, ...]) -> float:
    """CPU seconds so far of this process's threads with these names."""
    ids = [thread.native_id for thread in threading.enumerate() if thread.name in names]
    return sum(_cpu_s(Path(f"/proc/self/task/{tid}/stat")) for tid in ids)


def _tree_cpu_s(root: int) -> float:
    """CPU seconds so far of process `root` and every process that descends from it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue

    def descends(pid: int) -> bool:
        while pid > 1 and pid != root:
            pid = parents.get(pid, 0)
        return pid == root

    total = 0.0
    for pid in parents:
        if descends(pid):
            try:
                total += _cpu_s(Path(f"/proc/{pid}/stat"))
            except OSError:
                pass
    return total


def _wait(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium did not show the page")
        time.sleep(0.02)


def measure(size: int, fps: float, seconds: float) -> dict[str, float]:
    port = free_port("tcp")
    runner = OutputRunner(BrowserOutput(BrowserSettings(port=port), size, size, FrameRate.nearest(fps)), "browser")
    offered_ns: dict[int, int] = {}
    handover_ms: list[float] = []
    write = runner.output.write

    def timed_write(frame: OutputFrame) -> None:
        if frame.sequence in offered_ns:
            handover_ms.append((time.monotonic_ns() - offered_ns[frame.sequence]) / 1e6)
        write(frame)

    runner.output.write = timed_write  # type: ignore[method-assign]
    runner.start()
    _wait(lambda: runner.state == "running", 5.0)
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (size, size, 4), dtype=np.uint8) for _ in range(8)]
    runner.offer(OutputFrame(pictures[0], None, 0))
    with tempfile.TemporaryDirectory() as profile:
        chromium = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", f"--user-data-dir={profile}", f"--window-size={size},{size}",
             runner.output.url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(lambda: runner.status()["frames_painted"] == 1, 30.0)
            time.sleep(2.0)  # the browser settles after its start
            threads = ("rain-output-browser", f"rain-browser-{port}")
            frames = int(fps * seconds)
            cpu_before, chromium_before = _threads_cpu_s(threads), _tree_cpu_s(chromium.pid)
            load_before = os.getloadavg()[0]
            began = time.monotonic()
            for index in range(1, frames + 1):
                time.sleep(max(0.0, began + index / fps - time.monotonic()))
                offered_ns[index] = time.monotonic_ns()
                runner.offer(OutputFrame(pictures[index % len(pictures)], None, index))
            time.sleep(0.5)  # the last paint answers arrive
            cpu, chromium_cpu = _threads_cpu_s(threads) - cpu_before, _tree_cpu_s(chromium.pid) - chromium_before
            status = runner.status()
        finally:
            chromium.terminate()
            chromium.wait(10)
            runner.close()
    latency, (handover_p50, handover_p95) = status["paint_latency_ms"], np.percentile(handover_ms, [50, 95])
    return {"fps": fps, "frames": frames, "painted": status["frames_painted"] - 1, "dropped": status["viewer_drops"],
            "handover_p50": float(handover_p50), "handover_p95": float(handover_p95), "p50": latency["p50"],
            "p95": latency["p95"], "cpu_ms": 1000 * cpu / frames,
            "chromium_ms": 1000 * chromium_cpu / frames, "load": (load_before + os.getloadavg()[0]) / 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--fps", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {args.size}x{args.size} RGBA, "
          f"{args.seconds:g} s per rate\n")
    print("| fps | frames | painted | dropped | offer -> write() p50 / p95 (ms) | write() -> painted p50 / p95 (ms) "
          "| daemon CPU per frame (ms) | Chromium CPU per frame (ms) | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fps in args.fps:
        r = measure(args.size, fps, args.seconds)
        print(f"| {r['fps']:g} | {r['frames']} | {r['painted']} | {r['dropped']} "
              f"| {r['handover_p50']:.2f} / {r['handover_p95']:.2f} | {r['p50']:.1f} / {r['p95']:.1f} "
              f"| {r['cpu_ms']:.2f} | {r['chromium_ms']:.1f} | {r['load']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
