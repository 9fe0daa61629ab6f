"""Fixtures for the source tests: free UDP ports, a UDP socket, the spec-exact renderer."""

from __future__ import annotations

import socket
from typing import Callable, Iterable

import numpy as np
import pytest

from rain_vtuber.face.state import FaceState


@pytest.fixture
def free_udp_port() -> Callable[[], int]:
    """Returns a function giving a currently free UDP port on 127.0.0.1."""

    def pick() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    return pick


@pytest.fixture
def udp_sender() -> Iterable[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        yield sock


@pytest.fixture
def render() -> Callable[[FaceState], np.ndarray]:
    """FaceState -> 512x512 pose image through the spec-exact PoseRenderer (no framing, no filter)."""
    from rain_vtuber.landmarks import Calibration, PoseRenderer

    def draw(face: FaceState) -> np.ndarray:
        return PoseRenderer(Calibration.exact(), height=512, width=512).render(face)

    return draw
