"""Fixtures for daemon tests: free localhost ports and a tiny-weights config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.soak import make_demo_characters
from rain_vtuber.utils.ports import free_port
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS

__all__ = ["tiny_daemon_config", "udp_port"]


def tiny_daemon_config(root: Path, **extra: Any) -> DaemonConfig:
    """A CPU daemon on the tiny weights with one demo character (alice) under `root`, no log file."""
    characters, calibration = make_demo_characters(root, {"alice": (240, 240, 240)})
    return DaemonConfig(weights=TINY_WEIGHTS, engine_config=TINY_CONFIG, characters_dir=characters,
                        calibration_dir=calibration, character="alice", device="cpu", dtype="fp32", output_size=128,
                        outputs=[{"kind": "ndi", "ndi_name": f"rain-test-{root.name}"}], control_port=free_port(), log_file=None,
                        state_file=root / "state.json", **extra)


@pytest.fixture
def udp_port() -> int:
    return free_port()
