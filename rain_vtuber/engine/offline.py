"""Offline rendering: every pose frame in, exactly one output frame per pose frame out."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from rain_vtuber.engine.engine import RainEngine


def render_stream(engine: RainEngine, poses: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield one frame per pose, in order; the tail is flushed by repeating the last pose.

    The stream holds `groups - 1` groups in flight, so after the input ends the last pose is fed
    until every real frame has left the pile; frames made from padding are dropped.
    """
    engine.reset()
    pushed = emitted = 0
    last: np.ndarray | None = None
    for pose in poses:
        engine.push(pose)
        pushed, last = pushed + 1, pose
        while (frame := engine.pull()) is not None:
            emitted += 1
            yield frame
    if last is None:
        return
    while emitted < pushed:
        engine.push(last)
        while emitted < pushed and (frame := engine.pull()) is not None:
            emitted += 1
            yield frame
