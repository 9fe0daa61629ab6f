"""Calibrate tests never touch the user's cache: no cached weights (so no surprise live preview)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(tmp_path / "rain-home"))
