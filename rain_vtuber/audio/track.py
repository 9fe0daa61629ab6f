"""Mouth shapes on a timeline: the hops of the last seconds (live) or of a whole file (offline).

One writer appends hops; any number of readers ask for the shape at a time, without a lock: the
writer fills a slot before it publishes the new count, and a reader checks afterwards that the
slots it read were not overwritten meanwhile (the daemon's 60 fps sampling never waits on audio).

Between two neighbouring hops the shape is interpolated. After the newest hop, and across a gap in
the sound (a stalled or reopened device), it is what silence would give: the jaw closes with the
release time constant from the last shape heard, so a stall closes the mouth instead of freezing it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Sequence

import numpy as np

from rain_vtuber.audio.analysis import Hop
from rain_vtuber.face.mouth import Mouth

SILENT = Mouth(0.0)
_CLOSED = 0.005
"""An open value below this is reported as a shut mouth (Mouth(0))."""
_SLACK = 64
"""Slots a reader keeps away from the writer's wrap-around (the writer would need this many hops
during one read to overwrite what the reader looks at)."""


class HopRing:
    """The newest `capacity` hops; at(t) is safe from any thread while one thread push()es."""

    def __init__(self, capacity: int, hop_ns: int, release_ms: float) -> None:
        self.capacity = capacity + _SLACK
        self.gap_ns = 3 * hop_ns  # neighbours further apart than this have silence between them
        self.release_ns = release_ms * 1e6
        n = self.capacity
        self._t, self._level = [0] * n, [0.0] * n
        self._open, self._wide, self._round = [0.0] * n, [0.0] * n, [0.0] * n
        self._count = 0

    def push(self, hop: Hop) -> None:
        """Append one hop (times must increase); the writer's only call."""
        k = self._count % self.capacity
        self._t[k], self._level[k] = hop.t_ns, hop.level_db
        self._open[k], self._wide[k], self._round[k] = hop.open, hop.wide, hop.round
        self._count += 1  # publish after the slot is complete

    def __len__(self) -> int:
        return min(self._count, self.capacity - _SLACK)

    @property
    def newest(self) -> Hop | None:
        n = self._count
        return None if n == 0 else self._hop(n - 1)

    def at(self, t_ns: int) -> Mouth:
        """The mouth for the sound captured at t_ns (monotonic ns on the hops' clock); never blocks."""
        n = self._count
        first = max(0, n - self.capacity + _SLACK)
        if n == 0 or t_ns < self._t[first % self.capacity]:
            return SILENT
        i = first + bisect_right(range(first, n), t_ns, key=lambda j: self._t[j % self.capacity]) - 1
        k = i % self.capacity
        t0, open0, wide0, round0 = self._t[k], self._open[k], self._wide[k], self._round[k]
        mouth = None
        if i + 1 < n:
            k1 = (i + 1) % self.capacity
            t1 = self._t[k1]
            if t1 - t0 <= self.gap_ns:
                w = (t_ns - t0) / (t1 - t0)
                mouth = Mouth(
                    open0 + w * (self._open[k1] - open0),
                    wide0 + w * (self._wide[k1] - wide0),
                    round0 + w * (self._round[k1] - round0),
                )
        if mouth is None:  # after the newest hop or in a gap: silence since t0
            fade = math.exp(-(t_ns - t0) / self.release_ns) if self.release_ns > 0 else float(t_ns == t0)
            mouth = Mouth(open0 * fade, wide0, round0)
        if self._count >= i + self.capacity:  # the writer reached slot i while we read it
            return SILENT
        return SILENT if mouth.open < _CLOSED else mouth

    def hops_between(self, start_ns: int, end_ns: int) -> list[Hop]:
        """The hops held that were captured in [start_ns, end_ns), oldest first (a copy)."""
        n = self._count
        held = range(max(0, n - self.capacity + _SLACK), n)
        return [self._hop(j) for j in held if start_ns <= self._t[j % self.capacity] < end_ns]

    def _hop(self, j: int) -> Hop:
        k = j % self.capacity
        return Hop(self._t[k], self._level[k], self._open[k], self._wide[k], self._round[k])


class MouthTrack:
    """A whole recording's mouth on the file's own clock: at(s) is the shape at s seconds in."""

    def __init__(self, hops: Sequence[Hop], hop_ns: int, release_ms: float, duration_s: float) -> None:
        self.duration_s = duration_s
        self._ring = HopRing(max(1, len(hops)), hop_ns, release_ms)
        for hop in hops:
            self._ring.push(hop)

    def at(self, t_s: float) -> Mouth:
        return self._ring.at(round(t_s * 1e9))

    def frames(self, fps: float, count: int | None = None) -> list[Mouth]:
        """The mouth of frame i at i / fps, for `count` frames (default: the recording's length)."""
        if count is None:
            count = math.ceil(self.duration_s * fps)
        return [self.at(i / fps) for i in range(count)]

    def arrays(self) -> dict[str, np.ndarray]:
        """t_s, level_db, open, wide, round of every hop, as arrays (for plots and checks)."""
        rows = self._ring.hops_between(-(2**62), 2**62)
        return {
            "t_s": np.array([h.t_ns / 1e9 for h in rows]),
            "level_db": np.array([h.level_db for h in rows]),
            "open": np.array([h.open for h in rows]),
            "wide": np.array([h.wide for h in rows]),
            "round": np.array([h.round for h in rows]),
        }
