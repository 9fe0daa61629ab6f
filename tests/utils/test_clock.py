"""The output clock and the rate meter on the real monotonic clock (a manual clock where timing must be exact),
and the one-item slot between stages."""

from __future__ import annotations

import threading
import time

import numpy as np

from rain_vtuber.utils.clock import RateMeter, Ticker
from rain_vtuber.utils.slot import Slot


def test_ticker_spaces_ticks_evenly() -> None:
    ticker, stop = Ticker(50), threading.Event()
    times = []
    for _ in range(25):
        assert ticker.wait(stop)
        times.append(time.monotonic())
    gaps = np.diff(times)
    assert abs(float(np.mean(gaps)) - 0.02) < 0.003
    assert ticker.resets == 0


def test_ticker_resets_after_a_stall_instead_of_bursting() -> None:
    ticker, stop = Ticker(50, drift_reset=5), threading.Event()
    assert ticker.wait(stop)
    time.sleep(0.5)  # 25 periods behind
    times = []
    for _ in range(4):
        assert ticker.wait(stop)
        times.append(time.monotonic())
    assert ticker.resets == 1
    # one tick at once, then back to the 20 ms rhythm: no burst of 25 catch-up ticks
    assert min(np.diff(times)) > 0.012


def test_ticker_wait_returns_false_on_stop() -> None:
    ticker, stop = Ticker(1), threading.Event()
    threading.Timer(0.05, stop.set).start()
    start = time.monotonic()
    assert not ticker.wait(stop)
    assert time.monotonic() - start < 0.5


def test_slot_newest_wins_and_counts_drops() -> None:
    slot = Slot()
    assert not slot.put("a")
    assert slot.put("b")
    assert slot.dropped == 1
    assert slot.get(timeout=0.01) == "b"
    assert slot.get(timeout=0.01) is None
    threading.Timer(0.05, slot.put, args=("c",)).start()
    assert slot.get(timeout=2.0) == "c"


def test_rate_meter() -> None:
    now = [0.0]
    rate = RateMeter(window_s=2.0, clock=lambda: now[0])
    for i in range(40):
        now[0] = i * 0.25
        rate.tick()
    assert rate.rate() == 4.5  # 9 ticks in the 2 s up to 9.75 s
    now[0] = 20.0
    assert rate.rate() == 0.0
