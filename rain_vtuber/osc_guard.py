"""A check python-osc needs before it parses a bundle: element sizes that are zero, negative or past
the end send its bundle parser into an endless loop (one datagram would freeze a port's thread)."""

from __future__ import annotations

import struct

BUNDLE_PREFIX = b"#bundle\x00"
_HEADER = len(BUNDLE_PREFIX) + 8  # prefix + time tag


def bundle_problem(data: bytes, depth: int = 0) -> str | None:
    """Why `data` is a bundle python-osc must not parse, or None (also for anything not a bundle)."""
    if not data.startswith(BUNDLE_PREFIX):
        return None
    if depth > 8:
        return "OSC bundles nested too deep"
    index = _HEADER
    while index < len(data):
        if index + 4 > len(data):
            return "truncated OSC bundle element size"
        (size,) = struct.unpack_from(">i", data, index)
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            return f"OSC bundle element size {size} does not fit the datagram"
        if problem := bundle_problem(data[index : index + size], depth + 1):
            return problem
        index += size
    return None
