"""The output rate the daemon picks from the engine's measured speed."""

from __future__ import annotations

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.startup import sustainable_fps


def test_sustainable_fps() -> None:
    assert sustainable_fps([0.2, 0.25, 0.2], group_size=4, headroom=0.85, max_fps=30) == 17.0
    assert sustainable_fps([0.01], group_size=4, headroom=0.85, max_fps=30) == 30.0
    assert sustainable_fps([20.0], group_size=4, headroom=0.85, max_fps=30) == 1.0
    assert sustainable_fps([0.01], group_size=4, headroom=0.85, max_fps=DaemonConfig().max_fps) == 60.0
