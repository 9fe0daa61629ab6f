"""AudioSync: the microphone's sync offset follows the daemon's latency (offsets kept in a dict here)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from rain_obs_audio_sync import NS_PER_MS, SYNC_DEADBAND_MS, AudioSync

MS = NS_PER_MS


class Sources:
    """OBS's sources as far as AudioSync sees them: name -> sync offset (ns), with every write recorded."""

    def __init__(self, **offsets: int) -> None:
        self.offsets: Dict[str, int] = dict(offsets)
        self.writes: List[Tuple[str, int]] = []

    def get(self, name: str) -> Optional[int]:
        return self.offsets.get(name)

    def set(self, name: str, offset: int) -> bool:
        if name not in self.offsets:
            return False
        self.offsets[name] = offset
        self.writes.append((name, offset))
        return True


def _sync(sources: Sources, source: str = "Mic", margin_ms: int = 0) -> AudioSync:
    sync = AudioSync(sources.get, sources.set)
    sync.configure(source, margin_ms)
    return sync


def test_first_latency_applies_at_once_plus_margin() -> None:
    sources = Sources(Mic=37 * MS)
    sync = _sync(sources, margin_ms=15)
    sync.update(None)  # no daemon yet: nothing happens
    assert sources.writes == []
    sync.update(533.0)
    assert sources.offsets["Mic"] == 548 * MS and sync.originals == {"Mic": 37 * MS}


def test_small_moves_are_ignored_and_a_switch_is_followed_smoothly() -> None:
    sources = Sources(Mic=0)
    sync = _sync(sources)
    sync.update(530.0)
    for jitter in (540.0, 525.0, 545.0, 520.0):  # p50 wobbling within the dead band
        sync.update(jitter)
    assert sources.writes == [("Mic", 530 * MS)]
    for _ in range(8):  # the daemon switched to low latency: about half
        sync.update(265.0)
    steps = [offset / MS for _, offset in sources.writes[1:]]
    assert len(steps) >= 2 and steps == sorted(steps, reverse=True)  # smoothed: several steps down, no overshoot
    assert all(b - a < -SYNC_DEADBAND_MS for a, b in zip([530.0] + steps, steps))
    assert abs(sources.offsets["Mic"] / MS - 265.0) <= SYNC_DEADBAND_MS



def test_unreachable_daemon_leaves_the_offset_alone() -> None:
    sources = Sources(Mic=0)
    sync = _sync(sources)
    sync.update(500.0)
    for _ in range(5):
        sync.update(None)
    assert sources.writes == [("Mic", 500 * MS)]


def test_clearing_or_changing_the_source_restores_its_own_offset() -> None:
    sources = Sources(Mic=37 * MS, Desk=-5 * MS)
    sync = _sync(sources)
    sync.update(400.0)
    sync.configure("Desk", 0)  # another source: Mic gets its offset back, Desk follows from the next status
    assert sources.offsets["Mic"] == 37 * MS and sources.offsets["Desk"] == -5 * MS
    sync.update(400.0)
    assert sources.offsets["Desk"] == 400 * MS
    sync.configure("", 0)  # cleared
    assert sources.offsets["Desk"] == -5 * MS and sync.originals == {}
    sync.update(300.0)
    assert sources.offsets == {"Mic": 37 * MS, "Desk": -5 * MS}


def test_margin_change_applies_and_stop_restores() -> None:
    sources = Sources(Mic=10 * MS)
    sync = _sync(sources)
    sync.update(300.0)
    sync.configure("Mic", 5)  # a 5 ms margin is below the dead band but was asked for
    sync.update(300.0)
    assert sources.offsets["Mic"] == 305 * MS
    sync.stop()
    assert sources.offsets["Mic"] == 10 * MS
    sync.update(300.0)
    assert sources.offsets["Mic"] == 10 * MS


def test_saved_original_wins_over_an_offset_left_applied() -> None:
    """OBS saved while the offset was applied: next session restores the source's real original."""
    sources = Sources(Mic=533 * MS)
    sync = AudioSync(sources.get, sources.set, originals={"Mic": 37 * MS})
    sync.configure("Mic", 0)
    sync.update(520.0)
    sync.stop()
    assert sources.offsets["Mic"] == 37 * MS


def test_missing_source_is_tried_again_later() -> None:
    sources = Sources()
    sync = _sync(sources, source="Mic")
    sync.update(300.0)
    assert sync.applied_ns is None
    sources.offsets["Mic"] = 0  # the user adds the source
    sync.update(300.0)
    assert sources.offsets["Mic"] == 300 * MS
