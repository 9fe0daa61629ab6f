"""stream_health in the daemon: the config reaches the engine, and /rain/status shows the guard."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rain_vtuber.daemon import daemon as lifecycle
from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.pipeline import Pipeline
from rain_vtuber.engine import RainEngine
from rain_vtuber.errors import RainError
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS
from tests.daemon.conftest import tiny_daemon_config


@pytest.mark.e2e  # the daemon's own start-up (lifecycle.run), stopped at loading
@pytest.mark.parametrize("health", [True, False])
def test_the_config_switches_the_engines_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, health: bool) -> None:
    asked: dict = {}

    def load(*args, **kwargs):  # record what the daemon asks for, then stop the start-up
        asked.update(kwargs)
        raise RainError("stop here")

    monkeypatch.setattr(RainEngine, "load", load)
    with pytest.raises(RainError, match="stop here"):
        lifecycle.run(tiny_daemon_config(tmp_path, stream_health=health))
    assert asked["health"] is health


def test_status_shows_the_guard_state_and_counters(tmp_path: Path) -> None:
    config = tiny_daemon_config(tmp_path)
    pipeline = Pipeline(config, CharacterRegistry(config.characters_dir, config.calibration_dir, "alice"), threading.Event())
    try:
        assert pipeline.stats()["stream_health"] == {"state": "not started"}
        pipeline.engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, cache_dir=None)
        assert pipeline.stats()["stream_health"] == {"state": "learning", "triggers": 0, "dampings": 0, "refreshes": 0,
                                                     "soft_restarts": 0, "rebaselines": 0}
        pipeline.engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, cache_dir=None, health=False)
        assert pipeline.stats()["stream_health"] == {"state": "off"}
    finally:
        pipeline.close()
