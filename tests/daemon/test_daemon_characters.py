"""CharacterRegistry with the real tiny engine: discovery, fuse order, switching rules, reload."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from rain_vtuber.daemon.characters import CharacterRegistry, FuseState
from rain_vtuber.daemon.soak import make_demo_characters
from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import load_calibration, save_calibration

TINY = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "tiny"


@pytest.fixture(scope="module")
def engine():
    from rain_vtuber.engine import RainEngine

    return RainEngine.load(TINY / "weights", TINY / "config.yaml", cache_dir=None)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    characters, calibration = make_demo_characters(tmp_path, {"alice": (240, 240, 240), "bob": (30, 160, 90)})
    broken = characters / "broken"
    broken.mkdir()
    (broken / "reference.png").write_bytes(b"not a png")
    return characters, calibration


def test_discovery_skips_broken_characters_and_rejects_unknown_active(folders: tuple[Path, Path]) -> None:
    registry = CharacterRegistry(*folders, active="bob")
    assert registry.names() == ["alice", "bob"]
    assert registry.status() == {n: {"state": "pending", "error": None} for n in ("alice", "bob")}
    assert registry.get("bob").background == (30, 160, 90)
    with pytest.raises(RainError, match="character 'carol' not found .*known: alice, bob"):
        CharacterRegistry(*folders, active="carol")


def test_without_folders_it_finds_the_packaged_default_from_any_folder(
    new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rain_vtuber.paths import PACKAGED_HOME, data_home

    monkeypatch.chdir(tmp_path)
    registry = CharacterRegistry(None, None, active="default")
    assert registry.names() == ["default"]
    entry = registry.current
    assert entry.image_path == PACKAGED_HOME / "characters" / "default" / "reference.png"
    assert entry.calibration_path == data_home() / "calibration" / "default.yaml"  # writable, reloadable
    assert entry.background == (0xD7, 0xE6, 0xF3)  # character.yaml's background
    with pytest.raises(RainError, match=rf"character 'carol' not found in {tmp_path / 'characters'}, .*calibrate carol"):
        CharacterRegistry(None, None, active="carol")


def test_fuses_active_first_and_switches_only_when_ready(folders: tuple[Path, Path], engine) -> None:
    registry = CharacterRegistry(*folders, active="bob")
    with pytest.raises(RainError, match="'alice' is not ready \\(pending\\); still 'bob'"):
        registry.select("alice")
    stop = threading.Event()
    registry.start_fusing(engine, others=False)
    try:
        bob = registry.wait_ready("bob", stop, timeout=60)
        assert bob.states is not None
        with pytest.raises(RainError, match="could not be prepared: pending"):
            registry.wait_ready("alice", stop, timeout=1.0)  # only the active one until fuse_others()
        registry.fuse_others()
        registry.wait_ready("alice", stop, timeout=60)
        assert registry.select("alice").name == "alice" and registry.active == "alice"
        assert registry.neighbour(1) == "bob" and registry.neighbour(-1) == "bob"
        with pytest.raises(RainError, match="no character 'zed'"):
            registry.select("zed")
        assert registry.active == "alice"
        # a new character appears and is fused by the same background thread
        make_demo_characters(folders[0].parent, {"carol": (10, 10, 10)})
        assert registry.reload() == []
        assert registry.wait_ready("carol", stop, timeout=60).state is FuseState.READY
    finally:
        registry.close()


def test_reload_keeps_the_previous_calibration_when_a_file_breaks(folders: tuple[Path, Path]) -> None:
    registry = CharacterRegistry(*folders, active="alice")
    path = folders[1] / "alice.yaml"
    before = registry.get("alice").calibration
    path.write_text("framing: {scale: banana}\n")
    errors = registry.reload()
    assert len(errors) == 1 and "alice.yaml" in errors[0]
    assert registry.get("alice").calibration is before
    changed = before.model_copy(update={"framing": before.framing.model_copy(update={"scale": 0.8})})
    save_calibration(changed, path)
    assert registry.reload() == []
    assert registry.get("alice").calibration == load_calibration(path) != before


class _FailingFuser:
    """Fault injection: an engine whose fusion raises (out of GPU memory, a corrupt cache...)."""

    def fuse_reference(self, image: np.ndarray) -> None:
        raise RuntimeError("CUDA out of memory")


def test_a_failed_fusion_is_an_error_state_not_a_crash(folders: tuple[Path, Path]) -> None:
    registry = CharacterRegistry(*folders, active="alice")
    registry.start_fusing(_FailingFuser())
    try:
        with pytest.raises(RainError, match="could not be prepared: fusing failed: CUDA out of memory"):
            registry.wait_ready("alice", threading.Event(), timeout=10)
        with pytest.raises(RainError, match="not ready \\(error: fusing failed"):
            registry.select("alice")
    finally:
        registry.close()
