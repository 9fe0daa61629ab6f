"""HopRing: interpolation between hops, silence after the newest and across gaps, lock-free reads."""

from __future__ import annotations

import math
import threading

import pytest

from rain_vtuber.audio.analysis import Hop
from rain_vtuber.audio.track import HopRing
from rain_vtuber.face.mouth import Mouth

MS = 1_000_000


def _ring(opens: list[float], start_ms: int = 1000, capacity: int = 100, release_ms: float = 90.0) -> HopRing:
    ring = HopRing(capacity, hop_ns=10 * MS, release_ms=release_ms)
    for i, value in enumerate(opens):
        ring.push(Hop((start_ms + 10 * i) * MS, -20.0, value, 0.5, 0.25))
    return ring


def test_interpolates_between_neighbouring_hops() -> None:
    ring = _ring([0.2, 0.6, 1.0])
    assert ring.at(1000 * MS) == Mouth(0.2, 0.5, 0.25)
    assert ring.at(1005 * MS).open == pytest.approx(0.4)
    assert ring.at(1017 * MS).open == pytest.approx(0.88)


def test_before_any_sound_and_after_the_newest_it_is_silence_closing_with_the_release() -> None:
    ring = _ring([1.0] * 5)
    assert ring.at(999 * MS) == Mouth(0.0)
    newest = 1040 * MS
    assert ring.at(newest + 45 * MS).open == pytest.approx(math.exp(-45 / 90))  # as heard silence would close it
    assert ring.at(newest + 2000 * MS) == Mouth(0.0)  # a stalled input: shut, not frozen open
    assert HopRing(10, 10 * MS, 90.0).at(5 * MS) == Mouth(0.0)  # nothing heard yet


def test_a_gap_in_the_sound_is_silence_not_a_bridge() -> None:
    ring = _ring([1.0] * 3)
    ring.push(Hop(2000 * MS, -20.0, 1.0, 0.0, 0.0))  # the device came back a second later
    assert ring.at(1500 * MS) == Mouth(0.0)
    assert ring.at(1030 * MS).open == pytest.approx(math.exp(-10 / 90))
    assert ring.at(2000 * MS).open == 1.0


def test_keeps_the_newest_capacity_hops() -> None:
    ring = _ring([0.5] * 500, capacity=100)
    assert len(ring) == 100
    hops = ring.hops_between(0, 10**12)
    assert len(hops) == 100
    assert hops[0].t_ns == (1000 + 10 * 400) * MS and hops[-1].t_ns == (1000 + 10 * 499) * MS
    assert ring.at(1000 * MS) == Mouth(0.0)  # forgotten
    recent = ring.hops_between((1000 + 10 * 490) * MS, (1000 + 10 * 495) * MS)
    assert [h.t_ns // MS for h in recent] == [1000 + 10 * i for i in range(490, 495)]


def test_readers_never_wait_and_never_see_a_torn_hop_while_one_thread_writes() -> None:
    """Each hop's open equals its wide (written together); a torn read would mix two hops."""
    ring = HopRing(200, hop_ns=10 * MS, release_ms=90.0)
    done = threading.Event()
    problems: list[str] = []
    reads = [0]

    def write() -> None:
        for i in range(50_000):
            value = (i % 97) / 96
            ring.push(Hop(i * 10 * MS, -20.0, value, value, 0.0))
        done.set()

    def read() -> None:
        while not done.is_set():
            newest = ring.newest
            if newest is None:
                continue
            t = newest.t_ns - 500 * MS  # half a second back: always held
            mouth = ring.at(t)
            reads[0] += 1
            if mouth.open and abs(mouth.open - mouth.wide) > 1e-9:
                problems.append(f"{mouth} at {t}")

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == [] and reads[0] > 1000
