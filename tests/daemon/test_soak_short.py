"""Two minutes of the real pipeline (tiny weights, VMC face, NDI out) through the soak tool: RSS and
latency must not trend upwards. The 60-minute run is the same command with --seconds 3600."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rain_vtuber.daemon.soak import summary, trend_problems
from rain_vtuber.utils.ports import free_port
from tests.conftest import REPO, TINY_CONFIG, TINY_WEIGHTS

pytestmark = pytest.mark.e2e  # a two-minute soak of the real pipeline

SECONDS = 120
MAX_RSS_GROWTH_MB = 40.0  # RSS floor (between steps), last third vs first third of the samples
MAX_LATENCY_RATIO = 1.5


def test_two_minute_soak_has_no_rss_or_latency_trend(tmp_path: Path) -> None:
    report, port = tmp_path / "soak.json", free_port()
    run = subprocess.run(
        [sys.executable, "-m", "rain_vtuber.daemon.soak", "--seconds", str(SECONDS), "--interval", "5",
         "--weights", str(TINY_WEIGHTS), "--engine-config", str(TINY_CONFIG), "--vmc-port", str(port),
         "--ndi-name", f"rain-soak-test-{port}", "--json-out", str(report)],
        cwd=REPO, capture_output=True, text=True, timeout=SECONDS + 420,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    samples = json.loads(report.read_text())["samples"]
    print(json.dumps(summary(samples)))
    assert len(samples) >= SECONDS / 5 - 2
    assert all(s["source"] == "tracking" for s in samples)
    assert all(s["output_fps"] > 0 for s in samples[1:]), "NDI output stalled"
    assert not trend_problems(samples, MAX_RSS_GROWTH_MB, MAX_LATENCY_RATIO)
