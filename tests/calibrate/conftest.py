"""Calibrate tests never touch the user's cache: no cached weights (so no surprise live preview)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(private_rain_home: object) -> None:
    """Every test here runs on tests/conftest.py's private_rain_home."""
