"""Grammar-aware datagram mutators for the UDP ports (iFacialMocap text, OSC for VMC and control).

Mutations start from valid packets and break them where parsers branch: tokens and separators of the
iFacialMocap text; addresses, type tags, argument encodings and bundle element sizes of OSC. A few
byte-level flips on top keep some pure noise in the mix. Everything comes from one seeded Random.
"""

from __future__ import annotations

import random
import re
import struct
from typing import Callable, Sequence

JUNK_NUMBERS = ["nan", "-nan", "inf", "-inf", "1e999", "-1e999", "", "-", "--1", "0x10", "1,5", "1.2.3", "9" * 400,
                "٣", "１", "1e-400", "+", ".", "NaN", "None", "[1]"]
JUNK_NAMES = ["", "é", "\x00", "€" * 50, "jawOpen" * 40, "HEAD", "=head", "#", "|", "eyeBlink_L", "mouthSmile_R"]
IFM_SEPARATORS = "|&-#=,"
_IFM_TOKEN = re.compile(r"([|&#=,]|(?<=[A-Za-z_])-)")


def _flip_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def mutate_ifm(rng: random.Random, seeds: Sequence[str]) -> bytes:
    """One mutated iFacialMocap packet: token, separator and structure level, sometimes bytes too."""
    tokens = _IFM_TOKEN.split(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(tokens))
        op = rng.randrange(8)
        if op == 0:
            tokens[i] = rng.choice(JUNK_NUMBERS)
        elif op == 1:
            tokens[i] = rng.choice(JUNK_NAMES)
        elif op == 2:
            tokens[i] = rng.choice(IFM_SEPARATORS)
        elif op == 3:
            del tokens[i]
        elif op == 4:
            tokens.insert(i, tokens[i] * rng.randint(2, 5))
        elif op == 5:
            tokens[i] = str(rng.choice([0, -1, 101, 2**31, -2**63, 10**30, rng.uniform(-1e6, 1e6)]))
        elif op == 6:
            tokens = tokens[: i + 1]
        else:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        if not tokens:
            tokens = [""]
    data = "".join(tokens).encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        data = _flip_bytes(rng, data)
    if rng.random() < 0.05:
        data = data * rng.randint(2, 200)
    return data[:65000]


# ---- OSC, built by hand so it can be wrong on purpose -------------------------------------------

def osc_string(text: str | bytes) -> bytes:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return raw + b"\0" * (4 - len(raw) % 4)


def _encode(tag: str, value: object) -> bytes:
    """`value` as OSC type `tag`; a value that does not fit the tag becomes four 0xff bytes."""
    try:
        if tag == "i":
            return struct.pack(">i", max(-2**31, min(2**31 - 1, int(value))))  # type: ignore[call-overload]
        if tag == "f":
            return struct.pack(">f", max(-3e38, min(3e38, float(value))))  # type: ignore[arg-type]
        if tag in "hdt":
            return struct.pack(">d", float(value)) if tag == "d" else struct.pack(">q", 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return b"\xff" * 4
    if tag in "sS":
        return osc_string(str(value))
    if tag == "b":
        blob = str(value).encode("utf-8", "surrogatepass")
        return struct.pack(">i", len(blob)) + blob + b"\0" * (-len(blob) % 4)
    if tag in "cmr":
        return b"\0\0\0A"
    return b""  # T F N I [ ] carry no data


def osc_message(address: str | bytes, tags: str, args: Sequence[object]) -> bytes:
    """A message whose type tags and argument bytes may disagree (zip stops at the shorter)."""
    return osc_string(address) + osc_string("," + tags) + b"".join(_encode(t, a) for t, a in zip(tags, args))


def osc_bundle(elements: Sequence[bytes], lie: int = 0) -> bytes:
    """A bundle; `lie` adds to every element size (non-zero: the sizes are wrong)."""
    body = b"".join(struct.pack(">i", len(e) + lie) + e for e in elements)
    return b"#bundle\0" + struct.pack(">Q", 1) + body


ValidMessage = tuple[str, str, Sequence[object]]
OSC_TAGS = "ifsbhdtcrmTFNI[]S"


def mutate_osc(rng: random.Random, valid: Sequence[ValidMessage], addresses: Sequence[str]) -> bytes:
    """One mutated OSC datagram built from valid (address, tags, args) messages."""

    def message() -> bytes:
        address, tags, args = rng.choice(valid)
        args = list(args)
        op = rng.randrange(9)
        if op == 0:
            address = rng.choice(addresses) + rng.choice(["", "/", "//", "*", "[", "{a,b", "?", "\x00x", "é"])
        elif op == 1:
            address = rng.choice(addresses)[: rng.randint(0, 12)]
        elif op == 2:
            tags = "".join(rng.choice(OSC_TAGS) for _ in range(rng.randint(0, 12)))
        elif op == 3:
            args = [rng.choice([float("nan"), float("inf"), -1e30, 2**31 - 1, -2**31, "", "x" * 300, 0]) for _ in args]
        elif op == 4:
            tags, args = tags + "f" * rng.randint(1, 20), args + [0.5] * 20
        elif op == 5:
            tags = tags[: rng.randint(0, len(tags))]
        elif op == 6:
            tags = "".join(rng.sample(tags, len(tags))) if tags else "s"
        elif op == 7:
            address = rng.choice(JUNK_NAMES) or "/"
        raw = osc_message(address, tags, args)
        if rng.random() < 0.1:
            raw = raw[: rng.randint(0, len(raw))]
        return raw

    kind = rng.random()
    if kind < 0.55:
        data = message()
    elif kind < 0.9:
        elements = [message() for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.2:
            elements.append(osc_bundle([message() for _ in range(rng.randint(0, 3))]))
        data = osc_bundle(elements, lie=0 if rng.random() < 0.7 else rng.choice([-8, -1, 1, 4, 2**20]))
    else:
        data = b"#bundle\0" + bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if rng.random() < 0.15:
        data = _flip_bytes(rng, data)
    return data[:65000]


def corpus(count: int, make: Callable[[random.Random], bytes], seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [make(rng) for _ in range(count)]
