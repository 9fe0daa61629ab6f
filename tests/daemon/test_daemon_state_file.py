"""Faults survived on disk: the daemon's state file (character and recenter) across restarts, a full
disk while saving (calibration, state file, reference cache), a corrupted reference-state cache."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.daemon import Daemon
from rain_vtuber.daemon.state_file import SavedState, load_state, save_state
from rain_vtuber.daemon.soak import make_demo_characters
from rain_vtuber.engine import RainEngine
from rain_vtuber.landmarks import Calibration, load_calibration, save_calibration
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS, FullDisk


def _daemon(root: Path, character: str = "alice") -> Daemon:
    characters, calibration = root / "characters", root / "calibration"
    if not characters.is_dir():
        make_demo_characters(root, {"alice": (240, 240, 240), "bob": (30, 160, 90)})
    config = DaemonConfig(characters_dir=characters, calibration_dir=calibration, character=character,
                          state_file=root / "state.json", log_file=None)
    return Daemon(config, threading.Event())  # outputs open only on start: the registry and the state file are under test


def test_a_restart_comes_back_on_the_remembered_character_and_recenter(tmp_path: Path) -> None:
    first = _daemon(tmp_path)
    assert first.registry.active == "alice" and first.saved == SavedState()
    first._remember(character="bob", neutral={"bob": (0.3, 0.6)})  # what switch and recenter store
    second = _daemon(tmp_path)
    assert second.registry.active == "bob"
    framing = second.registry.get("bob").calibration.framing
    assert (framing.neutral_x, framing.neutral_y) == (0.3, 0.6)
    assert second.registry.get("alice").calibration.framing.neutral_x == 0.5
    second.reload()  # re-reading the calibration files keeps the remembered recenter
    assert second.registry.get("bob").calibration.framing.neutral_x == 0.3


def test_a_remembered_character_that_is_gone_falls_back_to_the_config(tmp_path: Path, caplog) -> None:
    save_state(SavedState("carol"), tmp_path / "state.json")
    assert _daemon(tmp_path).registry.active == "alice"
    assert "remembered character is gone" in caplog.text


@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"neutral": {"bob": "x"}}', b"\xff\xfe"])
def test_a_corrupted_state_file_is_forgotten(tmp_path: Path, garbage: bytes, caplog) -> None:
    (tmp_path / "state.json").write_bytes(garbage)
    assert load_state(tmp_path / "state.json") == SavedState()
    assert "ignoring the daemon state file" in caplog.text


def test_full_disk_keeps_the_old_calibration_and_state_file(full_disk: FullDisk, caplog) -> None:
    calibration, state = full_disk.path / "alice.yaml", full_disk.path / "state.json"
    save_calibration(Calibration(), calibration)
    save_state(SavedState("alice"), state)
    before = calibration.read_bytes(), state.read_bytes()
    full_disk.fill()
    changed = Calibration().model_copy(update={"framing": Calibration().framing.model_copy(update={"scale": 2.0})})
    with pytest.raises(OSError, match="No space left"):
        save_calibration(changed, calibration)
    save_state(SavedState("bob"), state)  # the daemon logs it and streams on
    assert "cannot save the daemon state" in caplog.text
    assert (calibration.read_bytes(), state.read_bytes()) == before
    assert load_calibration(calibration) == Calibration() and load_state(state) == SavedState("alice")
    assert not [p.name for p in full_disk.path.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def engine_and_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[RainEngine, np.ndarray]:
    torch.manual_seed(0)
    engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, cache_dir=tmp_path_factory.mktemp("cache"))
    image = np.asarray(Image.open(TINY_CONFIG.parent / "golden" / "reference_input.png").convert("RGB"))
    return engine, image


def test_a_corrupted_reference_cache_is_refused_and_rewritten(engine_and_image, caplog) -> None:
    engine, image = engine_and_image
    fresh = engine.fuser.fuse(image)
    path = engine.fuser.cache_path(image)
    assert path is not None and path.is_file()
    for damage in (lambda b: b[: len(b) // 2], lambda b: b[:8] + b"\x00" * (len(b) - 8), lambda b: b"junk"):
        path.write_bytes(damage(path.read_bytes()))
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            again = engine.fuser.fuse(image)
        assert "ignoring unreadable reference cache" in caplog.text
        assert torch.equal(again.context, fresh.context)
        assert all(torch.equal(again.states[k], fresh.states[k]) for k in fresh.states)
        assert engine.fuser.fuse(image).states.keys() == fresh.states.keys()  # rewritten: loads cleanly now


def test_a_full_disk_costs_the_reference_cache_not_the_character(engine_and_image, full_disk: FullDisk, caplog) -> None:
    if not full_disk.mounted:
        pytest.skip("the safetensors writer needs a really full file system: root, to mount a tiny tmpfs")
    engine, image = engine_and_image
    engine.fuser.cache_dir = full_disk.path
    full_disk.fill()
    states = engine.fuser.fuse(image)
    assert states.states and "could not cache the reference states" in caplog.text
