"""Fixtures for the source tests: a UDP socket to send from (the spec-exact renderer is tests/conftest.py's)."""

from __future__ import annotations

import socket
from typing import Iterable

import pytest


@pytest.fixture
def udp_sender() -> Iterable[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        yield sock
