"""Fixtures for daemon tests: a real NDI receiver on loopback and free localhost ports."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from rain_vtuber.daemon.soak import free_udp_port
from rain_vtuber.outputs.ndi_receiver import NdiProbe

__all__ = ["free_udp_port", "ndi_probe", "udp_port"]


@pytest.fixture(scope="module")
def ndi_probe() -> Iterator[Callable[..., NdiProbe]]:
    probes: list[NdiProbe] = []

    def make(name: str, timeout: float = 30.0) -> NdiProbe:
        probes.append(NdiProbe(name, timeout))
        return probes[-1]

    yield make
    for probe in probes:
        probe.close()


@pytest.fixture
def udp_port() -> int:
    return free_udp_port()
