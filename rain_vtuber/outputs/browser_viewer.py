"""One page watching the browser output: its newest-frame slot, the frames it has not painted, its counts.

The page answers every frame it paints with that frame's sequence. A viewer gets a new frame only
while fewer than IN_FLIGHT sent frames wait for that answer, so a slow page (a busy OBS, a tab in
the background, a link that cannot keep up) is never sent a queue: its slot holds the newest frame
and each frame replaced there, or sent but skipped by the page, counts as one of its drops.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

IN_FLIGHT = 2  # frames sent and not yet painted; two keep a 60 fps page busy across a paint


@dataclass(frozen=True)
class SentFrame:
    """One frame as it goes out: the wire message and what its paint answer is timed against."""

    sequence: int  # the frame's sequence modulo 2**32, as the page answers it
    offered_ns: int  # time.monotonic_ns() when the output stage handed the frame over
    message: bytes | bytearray


class Viewer:
    """State of one connected page; used only on the output's event loop thread (counts read anywhere)."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.pending: SentFrame | None = None
        # the last frame offered: a viewer that connects while a frame is being published is offered it twice
        # (as the newest frame when it connects, and by the publishing); the second time is nothing new
        self.offered: SentFrame | None = None
        self.unpainted: deque[SentFrame] = deque()
        self.sent = self.painted = self.dropped = 0
        self.wake = asyncio.Event()

    def offer(self, frame: SentFrame) -> None:
        """The newest frame; the one waiting in the slot (never sent) is dropped."""
        if frame is self.offered:
            return
        self.offered = frame
        if self.pending is not None:
            self.dropped += 1
        self.pending = frame
        self.wake.set()

    def next_to_send(self) -> SentFrame | None:
        """The frame to send now: the newest, if the page has room for one more."""
        if self.pending is None or len(self.unpainted) >= IN_FLIGHT:
            return None
        frame, self.pending = self.pending, None
        self.unpainted.append(frame)
        return frame

    def painted_frame(self, sequence: int) -> SentFrame | None:
        """The page painted `sequence`: that frame, and the ones sent before it count as skipped.

        None when no unpainted frame has that sequence (an answer that came twice, or a bad one).
        """
        if all(frame.sequence != sequence for frame in self.unpainted):
            return None
        while (frame := self.unpainted.popleft()).sequence != sequence:
            self.dropped += 1
        self.painted += 1
        self.wake.set()
        return frame

    def counts(self) -> dict[str, Any]:
        return {"peer": self.peer, "sent": self.sent, "painted": self.painted, "dropped": self.dropped}
