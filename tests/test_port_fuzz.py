"""Grammar-aware fuzzing of the three UDP ports at scale: 100,000 mutated datagrams per port from a
fixed seed, each port within 60 s. No crash, a valid packet still parsed afterwards, the warning log
rate-limited, RSS flat. RAIN_FUZZ_DATAGRAMS changes the count (for a quick local run)."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import Callable, Iterator

import pytest

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.control import ControlServer, build_message, parse_reply
from rain_vtuber.daemon.daemon import Daemon
from rain_vtuber.daemon.soak import make_demo_characters, rss_mb
from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.blendshapes import ARKIT_NAMES
from rain_vtuber.sources.vmc import BLEND_APPLY, BLEND_VAL, BONE_POS
from rain_vtuber.utils.ports import free_port
from tests.grammar_fuzz import mutate_ifm, mutate_osc
from tests.sources.source_helpers import blast, send_until

pytestmark = pytest.mark.e2e  # 100,000 datagrams per port

DATAGRAMS = int(os.environ.get("RAIN_FUZZ_DATAGRAMS", "100000"))
BUDGET_S = 60.0
RSS_GROWTH_MB = 16.0  # after the first tenth (allocator warm-up), the process may not keep growing
WARN_INTERVAL_S = 5.0  # RateLimitedLog's window: each kind of warning at most once per window


def _datagrams(make: Callable[[random.Random], bytes], seed: int, rss: list[float]) -> Iterator[bytes]:
    """DATAGRAMS mutated packets; samples RSS after the first tenth and at the end."""
    rng = random.Random(seed)
    for i in range(DATAGRAMS):
        if i == DATAGRAMS // 10:
            rss.append(rss_mb())
        yield make(rng)
    rss.append(rss_mb())


def _check_log(caplog: pytest.LogCaptureFixture, elapsed: float, kinds: int) -> int:
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in records if r.exc_info], "a handler crashed: " + records[0].getMessage()[:200]
    assert len(records) <= kinds * (elapsed / WARN_INTERVAL_S + 2), (len(records), [r.getMessage()[:80] for r in records[:20]])
    return len(records)


IFM_SEEDS = [
    "|".join(f"{name}-{i % 100}" for i, name in enumerate(ARKIT_NAMES)) + "|=head#1.5,-2.5,3.0,0.01,0.02,-0.4|",
    "jawOpen&42|eyeBlink_L&10|=head#0,10,0,0,0,0|",
    "jawOpen-42|=head#0,10,0|",
]
VMC_VALID = [(BONE_POS, "sfffffff", ["Head", 0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 1.0]),
             (BLEND_VAL, "sf", ["JawOpen", 0.5]), (BLEND_APPLY, "", []),
             ("/VMC/Ext/OK", "i", [1]), ("/VMC/Ext/T", "f", [1.5])]


@pytest.mark.parametrize("kind", ["ifacialmocap", "vmc"])
def test_source_port_survives_100k_mutated_datagrams(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()
    source = open_source(SourceConfig(kind=kind, host="127.0.0.1", port=port))
    if kind == "vmc":
        make = lambda rng: mutate_osc(rng, VMC_VALID, [a for a, _, _ in VMC_VALID])  # noqa: E731
        valid = [build_message(BLEND_VAL, "JawOpen", 0.25), build_message(BLEND_APPLY)]
    else:
        make = lambda rng: mutate_ifm(rng, IFM_SEEDS)  # noqa: E731
        valid = [b"jawOpen-25|=head#0,10,0|"]
    rss: list[float] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        source.start()
        try:
            began = time.monotonic()
            blast(sock, _datagrams(make, seed=13 if kind == "vmc" else 31, rss=rss), port, source)
            elapsed = time.monotonic() - began
            # parsed, not refused: published (the face's values may still mix in shapes the fuzz set by
            # other names, as a sender's earlier packets would: each packet updates only what it names)
            published, rejected = source.counters.published, source.counters.rejected
            send_until(lambda: [sock.sendto(v, ("127.0.0.1", port)) for v in valid],
                       lambda: source.counters.published > published, timeout=10)
            assert source.counters.rejected == rejected
            assert source.running and source.state is TrackingState.TRACKING and source.error is None
            assert source.counters.errors == 0
        finally:
            source.stop()
    warnings = _check_log(caplog, elapsed, kinds=8)
    print(f"{kind}: {DATAGRAMS} datagrams in {elapsed:.1f} s ({DATAGRAMS / elapsed:.0f}/s), "
          f"received {source.counters.received}, rejected {source.counters.rejected}, {warnings} warnings, "
          f"RSS {rss[0]:.1f} -> {rss[1]:.1f} MiB")
    assert source.counters.received >= 0.5 * DATAGRAMS
    assert rss[1] - rss[0] <= RSS_GROWTH_MB
    assert elapsed <= BUDGET_S


CONTROL_VALID = [("/rain/ping", "", []), ("/rain/status", "", []), ("/rain/character", "s", ["bob"]),
                 ("/rain/character", "s", ["carol"]), ("/rain/pause", "", []), ("/rain/recenter", "", []),
                 ("/rain/character/next", "", []), ("/rain/reload", "", [])]


def test_control_port_survives_100k_mutated_datagrams(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """The daemon's real command table (stream not started: commands answer 'not up yet' or act)."""
    caplog.set_level(logging.WARNING)
    characters, calibration = make_demo_characters(tmp_path, {"alice": (240, 240, 240), "bob": (30, 160, 90)})
    port = free_port()
    config = DaemonConfig(characters_dir=characters, calibration_dir=calibration, character="alice",
                          control_port=port, log_file=None, state_file=tmp_path / "s.json")
    daemon = Daemon(config, threading.Event())
    server = ControlServer(port, daemon.commands())
    server.start()
    make = lambda rng: mutate_osc(rng, CONTROL_VALID, sorted(daemon.commands()))  # noqa: E731
    rss: list[float] = []
    replies = 0
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

            def ping() -> bool:
                """Send a ping and read replies until its pong (the server has caught up) or 2 s."""
                nonlocal replies
                sock.sendto(build_message("/rain/ping"), ("127.0.0.1", port))
                deadline = time.monotonic() + 2.0
                while (left := deadline - time.monotonic()) > 0:
                    sock.settimeout(left)
                    try:
                        data = sock.recv(65536)
                    except socket.timeout:
                        return False
                    replies += 1
                    if parse_reply(data)[:2] == ("/rain/ping", "ok"):
                        return True
                return False

            began = time.monotonic()
            for i, datagram in enumerate(_datagrams(make, seed=7, rss=rss), start=1):
                sock.sendto(datagram, ("127.0.0.1", port))
                if i % 100 == 0:
                    ping()
            elapsed = time.monotonic() - began
            assert any(ping() for _ in range(5)), "the control port no longer answers a valid ping"
    finally:
        server.close()
    warnings = _check_log(caplog, elapsed, kinds=12)
    print(f"control: {DATAGRAMS} datagrams in {elapsed:.1f} s ({DATAGRAMS / elapsed:.0f}/s), {replies} replies "
          f"read, {server.rejected} rejected, {warnings} warnings, RSS {rss[0]:.1f} -> {rss[1]:.1f} MiB")
    assert server.rejected >= 0.2 * DATAGRAMS  # most mutations are refused by the parser or the command table
    assert rss[1] - rss[0] <= RSS_GROWTH_MB
    assert elapsed <= BUDGET_S
