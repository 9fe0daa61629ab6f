"""Thousands of hostile datagrams at both UDP sources: no crash, bounded logging, still tracking after."""

from __future__ import annotations

import logging
import random
import socket
import struct
import time

import pytest
from pythonosc import osc_message_builder
from pythonosc.parsing import osc_types

from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.sources.blendshapes import ARKIT_NAMES
from rain_vtuber.sources.vmc import AVAILABLE, BLEND_APPLY, BLEND_VAL, BONE_POS
from rain_vtuber.utils.ports import free_port
from tests.sources.source_helpers import blast, send_until

MAX_WARNINGS = 20  # a few keys x a few 5-second windows; thousands of bad packets must not mean thousands of lines


def osc(address: str, *args) -> bytes:
    builder = osc_message_builder.OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def osc_bundle(messages: list[bytes], timestamp: float = osc_types.IMMEDIATELY) -> bytes:
    """A bundle from raw message datagrams (so the corpus can carry hand-made, malformed elements)."""
    elements = b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return b"#bundle\x00" + osc_types.write_date(timestamp) + elements


def ifm_corpus(rng: random.Random) -> list[bytes]:
    full = "|".join(f"{name}-{rng.randint(0, 100)}" for name in ARKIT_NAMES) + "|=head#1.5,-2.5,3.0,0.01,0.02,-0.4|"
    v2 = full.replace("-", "&")
    relay = ("faceObjGrp!Head|" + "|".join(f"blendShape1.{name}&{rng.randint(0, 100)}" for name in ARKIT_NAMES)
             + "|=headPosition#0.01,-0.04,0.002,objectName|head#-6.5,-3.8,-0.4,head|rightEye#-5.0,1.1,0.0,eyeBall_R|"
             "neck#-4.6,-2.7,-0.3,neckLower|spine#-2.0,-1.2,-0.1,objectName|")
    junk_values = ["abc", "nan", "inf", "-inf", "1e999", "", "--", "0x10", "1,5", "[1]", "None"]
    corpus: list[bytes] = []
    corpus += [rng.randbytes(rng.randint(0, 1500)) for _ in range(500)]
    corpus += [full.encode()[: rng.randint(0, len(full) - 1)] for _ in range(250)]
    corpus += [v2.encode()[: rng.randint(0, len(v2) - 1)] for _ in range(250)]
    corpus += [relay.encode()[: rng.randint(0, len(relay) - 1)] for _ in range(250)]
    corpus += [f"trackingStatus{rng.choice('-&')}{rng.choice(junk_values + ['0', '1'])}|".encode() for _ in range(100)]
    bones = ["=head", "head", "headPosition", "neck", "spine", "rightEye"]
    numbers = junk_values + ["1", "x"]
    corpus += [f"{rng.choice(bones)}#{','.join(rng.choice(numbers) for _ in range(rng.randint(0, 6)))}|".encode()
               for _ in range(200)]
    corpus += [f"jawOpen{rng.choice('-&')}{rng.choice(junk_values)}|".encode() for _ in range(300)]
    corpus += [f"=head#{','.join(rng.choice(junk_values + ['1']) for _ in range(rng.randint(0, 8)))}|".encode()
               for _ in range(300)]
    corpus += ["".join(rng.choice("|&#-=, eyeBlink_L0123456789.nanié€") for _ in range(rng.randint(1, 300))).encode()
               for _ in range(300)]
    corpus += [b"x" * 60000, (full * 40).encode()[:60000], b"\x00" * 1000, "é".encode() * 20000]
    return corpus


def vmc_corpus(rng: random.Random) -> list[bytes]:
    good = [osc(BONE_POS, "Head", 0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 1.0), osc(BLEND_VAL, "JawOpen", 0.5), osc(BLEND_APPLY)]
    frame = osc_bundle(good)
    nan, inf = float("nan"), float("inf")
    wrong = [
        osc(BLEND_VAL, 3, 0.5), osc(BLEND_VAL, "JawOpen", "wide"), osc(BLEND_VAL, "JawOpen"), osc(BLEND_VAL),
        osc(BLEND_VAL, "JawOpen", b"\x01\x02"), osc(BLEND_VAL, "JawOpen", True), osc(BLEND_VAL, "JawOpen", nan),
        osc(BLEND_VAL, "JawOpen", inf), osc(BONE_POS, "Head", "a", "b"),
        osc(BONE_POS, "Head", 0.0, 0.0, 0.0, nan, 0.0, 0.0, 1.0),
        osc(BONE_POS, "Neck", 0.0, 0.0, 0.0, inf, inf, inf, inf), osc(BONE_POS, "Head", 0, 0, 0, 0, 0, 0, 0),
        osc(BONE_POS), osc(BONE_POS, 1.5), osc("/VMC/*", 1, 2), osc("/VMC/Ext/[", 1.0), osc("/{a,b", "x"),
        osc(BLEND_APPLY, "extra", 1, 2.0), osc(AVAILABLE), osc(AVAILABLE, "1"), osc(AVAILABLE, 1.0, 3, 0, 1),
        osc(AVAILABLE, 1, 3, 0, "lost"), osc(AVAILABLE, 1, 3, 0, 0),
    ]
    corpus: list[bytes] = []
    corpus += [rng.randbytes(rng.randint(0, 1500)) for _ in range(500)]
    corpus += [b"/" + rng.randbytes(rng.randint(0, 200)) for _ in range(400)]
    corpus += [b"#bundle\x00" + rng.randbytes(rng.randint(0, 200)) for _ in range(400)]
    corpus += [frame[: rng.randint(0, len(frame) - 1)] for _ in range(300)]
    corpus += [good[rng.randrange(2)][: rng.randint(1, 40)] for _ in range(200)]
    corpus += [rng.choice(wrong) for _ in range(600)]
    corpus += [osc_bundle([rng.choice(wrong) for _ in range(rng.randint(1, 20))]) for _ in range(300)]
    corpus += [osc_bundle(good, timestamp=time.time() + 3600.0) for _ in range(5)]  # must not sleep an hour
    corpus += [osc_bundle([osc(BLEND_VAL, f"Shape{i}", 0.5) for i in range(1400)])]  # ~62 KB, near the UDP limit
    corpus += [b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 2**31 - 1) + b"/x"]  # element size lies
    return corpus


def fuzz(source: FaceSource, port: int, corpus: list[bytes], valid: bytes, expect, caplog) -> None:
    caplog.set_level(logging.WARNING)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        source.start()
        try:
            blast(sock, corpus, port, source)
            send_until(lambda: sock.sendto(valid, ("127.0.0.1", port)),
                       lambda: (f := source.latest()) is not None and expect(f), timeout=10)
            assert source.running and source.state is TrackingState.TRACKING and source.error is None
            assert source.counters.errors == 0
            assert source.counters.rejected >= 0.5 * len(corpus)
        finally:
            source.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]  # any logger, python-osc's included
    assert 1 <= len(warnings) <= MAX_WARNINGS, [r.getMessage()[:100] for r in warnings]
    assert not source.running


def test_ifacialmocap_survives_fuzz(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    source = open_source(SourceConfig(kind="ifacialmocap", host="127.0.0.1", port=port))
    corpus = ifm_corpus(random.Random(1234))
    fuzz(source, port, corpus, b"jawOpen&42|=head#0,10,0|", lambda f: f.expressions.get("jawOpen") == 0.42, caplog)


def test_vmc_survives_fuzz(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    source = open_source(SourceConfig(kind="vmc", host="127.0.0.1", port=port))
    corpus = vmc_corpus(random.Random(5678))
    # a VMC 2.7 sender states its tracking status every frame (the corpus also says "lost")
    valid = osc_bundle([osc(AVAILABLE, 1, 3, 0, 1), osc(BLEND_VAL, "JawOpen", 0.25), osc(BLEND_APPLY)])
    fuzz(source, port, corpus, valid, lambda f: abs(f.expressions.get("jawOpen", 0) - 0.25) < 1e-6, caplog)
