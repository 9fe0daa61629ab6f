"""OSC 1.0 messages for the OBS script: only what the daemon's control protocol needs.

OBS runs scripts in its own embedded Python, where python-osc is not installed, so this is the
standard library only. Bundles are refused (the daemon never sends them).
"""

from __future__ import annotations

import struct
from typing import List, Sequence, Tuple, Union

OscArg = Union[str, int, float, bool, bytes, None]


class OscError(ValueError):
    """A datagram that is not a well-formed OSC message."""


def _osc_string(text: str) -> bytes:
    """UTF-8, NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    raw = text.encode("utf-8")
    return raw + b"\0" * (4 - len(raw) % 4)


def _osc_blob(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data + b"\0" * (-len(data) % 4)


def encode_message(address: str, args: Sequence[OscArg] = ()) -> bytes:
    """Address + args -> one OSC message (tags i, f, s, b, T, F, N)."""
    if not address.startswith("/"):
        raise OscError(f"OSC address must start with '/': {address!r}")
    tags = ","
    payload = b""
    for arg in args:
        if arg is None:
            tags += "N"
        elif isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int):
            tags += "i"
            payload += struct.pack(">i", arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += struct.pack(">f", arg)
        elif isinstance(arg, str):
            tags += "s"
            payload += _osc_string(arg)
        elif isinstance(arg, bytes):
            tags += "b"
            payload += _osc_blob(arg)
        else:
            raise OscError(f"cannot encode OSC argument of type {type(arg).__name__}")
    return _osc_string(address) + _osc_string(tags) + payload


def _read_string(data: bytes, pos: int) -> Tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscError("unterminated OSC string")
    try:
        text = data[pos:end].decode("utf-8")
    except UnicodeDecodeError as err:
        raise OscError(f"OSC string is not UTF-8: {err}") from None
    return text, end + 1 + (-(end + 1 - pos) % 4)


def _read_fixed(data: bytes, pos: int, fmt: str) -> Tuple[object, int]:
    size = struct.calcsize(fmt)
    if pos + size > len(data):
        raise OscError("OSC message ends inside an argument")
    return struct.unpack_from(fmt, data, pos)[0], pos + size


_FIXED = {"i": ">i", "f": ">f", "d": ">d", "h": ">q", "t": ">Q"}
_CONSTANTS = {"T": True, "F": False, "N": None, "I": float("inf")}


def decode_message(data: bytes) -> Tuple[str, List[OscArg]]:
    """One OSC message -> (address, args); raises OscError on anything malformed (bundles too)."""
    if data.startswith(b"#bundle"):
        raise OscError("OSC bundles are not supported by this client")
    address, pos = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscError(f"OSC address must start with '/': {address!r}")
    if pos >= len(data):
        return address, []
    tags, pos = _read_string(data, pos)
    if not tags.startswith(","):
        raise OscError(f"OSC type tags must start with ',': {tags!r}")
    args: List[OscArg] = []
    for tag in tags[1:]:
        if tag in _FIXED:
            value, pos = _read_fixed(data, pos, _FIXED[tag])
            args.append(value)  # type: ignore[arg-type]
        elif tag in "sS":
            text, pos = _read_string(data, pos)
            args.append(text)
        elif tag == "b":
            size, pos = _read_fixed(data, pos, ">i")
            end = pos + int(size)  # type: ignore[call-overload]
            if int(size) < 0 or end > len(data):  # type: ignore[call-overload]
                raise OscError("OSC blob runs past the end of the message")
            args.append(data[pos:end])
            pos = end + (-int(size) % 4)  # type: ignore[call-overload]
        elif tag in _CONSTANTS:
            args.append(_CONSTANTS[tag])  # type: ignore[arg-type]
        else:
            raise OscError(f"unsupported OSC type tag {tag!r}")
    return address, args
