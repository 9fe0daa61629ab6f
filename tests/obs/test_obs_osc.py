"""rain_obs_osc: the script's stdlib OSC codec against python-osc, both ways."""

from __future__ import annotations

import struct

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_obs_osc import OscError, decode_message, encode_message

ARGS = [
    [],
    [""],
    ["abc"],  # 3 bytes + NUL fills the word exactly
    ["abcd"],  # 4 bytes needs a whole extra word of NULs
    ["tök€n", -7, 2**31 - 1, 0.5, True, False, None],
    [b"", b"x", b"1234", b"12345"],
]


@pytest.mark.parametrize("args", ARGS)
def test_encoded_messages_parse_in_python_osc(args: list) -> None:
    data = encode_message("/rain/character", args)
    msg = OscMessage(data)
    assert len(data) % 4 == 0
    assert msg.address == "/rain/character"
    assert msg.params == args


# python-osc cannot build None or empty blobs, so those are only checked the other way round
@pytest.mark.parametrize("args", [a for a in ARGS if None not in a and b"" not in a] + [[b"x", b"1234", b"12345"]])
def test_python_osc_messages_decode(args: list) -> None:
    builder = OscMessageBuilder("/rain/reply")
    for arg in args:
        builder.add_arg(arg)
    assert decode_message(builder.build().dgram) == ("/rain/reply", args)


def test_decode_reads_doubles_and_int64_from_python_osc() -> None:
    builder = OscMessageBuilder("/x")
    builder.add_arg(1.25, OscMessageBuilder.ARG_TYPE_DOUBLE)
    builder.add_arg(2**40, OscMessageBuilder.ARG_TYPE_INT64)
    assert decode_message(builder.build().dgram) == ("/x", [1.25, 2**40])


def test_decode_address_without_type_tags() -> None:
    assert decode_message(b"/rain/ping\0\0") == ("/rain/ping", [])


@pytest.mark.parametrize(
    "data, why",
    [
        (b"/rain", "unterminated"),
        (b"rain\0\0\0\0,\0\0\0", "start with '/'"),
        (b"/x\0\0s\0\0\0", "type tags"),
        (b"/x\0\0,i\0\0\0\0", "ends inside"),
        (b"/x\0\0,s\0\0abcd", "unterminated"),
        (b"/x\0\0,b\0\0" + struct.pack(">i", 99) + b"ab", "blob"),
        (b"/x\0\0,b\0\0" + struct.pack(">i", -1), "blob"),
        (b"/x\0\0,r\0\0\0\0\0\0", "unsupported"),
        (b"/\xff\0\0", "UTF-8"),
        (b"#bundle\0" + bytes(8), "bundles"),
    ],
)
def test_decode_rejects_malformed(data: bytes, why: str) -> None:
    with pytest.raises(OscError, match=why):
        decode_message(data)


def test_encode_rejects_bad_address_and_types() -> None:
    with pytest.raises(OscError, match="start with '/'"):
        encode_message("rain/ping")
    with pytest.raises(OscError, match="dict"):
        encode_message("/rain/ping", [{}])

