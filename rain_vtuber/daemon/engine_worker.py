"""Engine worker stage: pose groups from the sampler -> engine steps -> finished frames to the output stage.

The engine keeps each group's tag in its pile and hands it back with that group's frames, so the
worker needs no copy of the pile: a frame's stamps (capture, pose, the step that took its group, the
step that returned it) come straight out of the step. Commands from the control thread (a new
character, a latency switch, a soft restart) wait in slots and run between steps on this thread,
which is the only one that touches the engine while streaming. Out of memory mid-stream: the pile is
dropped, memory freed and the step retried with backoff while the outputs repeat the last frame.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rain_vtuber.daemon.oom import free_memory, is_oom
from rain_vtuber.daemon.sampler import PoseGroup
from rain_vtuber.outputs.latency import FrameStamps
from rain_vtuber.outputs.stage import OutputStage
from rain_vtuber.utils.backoff import Backoff
from rain_vtuber.utils.clock import RateMeter
from rain_vtuber.utils.ratelimit import RateLimitedLog
from rain_vtuber.utils.slot import Slot

if TYPE_CHECKING:  # torch loads with the engine; `rain-vtuber ctl` and the CLI start without it
    from rain_vtuber.engine import RainEngine

log = logging.getLogger(__name__)

OOM_BACKOFF_S = (0.5, 8.0)  # first and longest wait before stepping again after running out of memory


@dataclass(frozen=True)
class GroupTag:
    """What rides through the pile with a group: its poses' stamps and when the step that took it began."""

    stamps: list[tuple[int, int]]
    began: int


class EngineWorker:
    """Steps `engine` on the groups in `groups` and delivers the frames to `stage`."""

    def __init__(self, engine: RainEngine, groups: Slot, stage: OutputStage, oom_advice: str) -> None:
        self.engine = engine
        self.groups = groups
        self.stage = stage
        self.oom_advice = oom_advice  # "out of memory while stepping ...: try ..." without the count
        self.engine_rate = RateMeter()
        self.oom_count = 0
        self._references = Slot()  # reference states waiting to be installed
        self._latency = Slot()  # a latency mode waiting to be switched to
        self._reset = threading.Event()
        self._backoff = Backoff(*OOM_BACKOFF_S)
        self._warn = RateLimitedLog(log)
        stage.set_group_size(engine.group_size)

    # -- commands (any thread) ---------------------------------------------------------------

    def set_reference(self, states: Any) -> None:
        self._references.put(states)

    def set_latency(self, mode: str) -> None:
        self._latency.put(mode)

    def reset(self) -> None:
        """Drop what is in flight and start over with a soft start (after a pause)."""
        self._reset.set()

    # -- the engine thread ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            group = self.groups.get(timeout=0.1)
            try:
                self._apply_commands()
                if isinstance(group, PoseGroup) and len(group.poses) == self.engine.group_size:
                    self._step(group)  # a group sampled for another pile depth (a latency switch) is skipped
            except Exception as err:
                if is_oom(err):
                    self._recover_from_oom(stop)
                else:
                    self._warn.warning("step", "engine step failed: %s: %s", type(err).__name__, err)
                    log.debug("engine step failed", exc_info=err)

    def _apply_commands(self) -> None:
        if (states := self._references.get(timeout=0)) is not None:
            self.engine.set_reference(states)
        if (mode := self._latency.get(timeout=0)) is not None:
            self._switch_latency(str(mode))
        if self._reset.is_set():
            self._reset.clear()
            self.engine.reset()

    def _step(self, group: PoseGroup) -> None:
        began = time.monotonic_ns()
        step = self.engine.step(group.poses, GroupTag(group.stamps, began))
        done = time.monotonic_ns()
        self._backoff.succeeded()
        if not len(step.frames):
            return
        tag: GroupTag = step.tag
        decoding = self.engine.decode_began_ns
        self.stage.deliver(list(step.frames), [
            FrameStamps(captured, posed, tag.began, step.pile_frames, began, decoding, done)
            for captured, posed in tag.stamps
        ])
        for _ in range(len(step.frames)):
            self.engine_rate.tick()

    def _switch_latency(self, mode: str) -> None:
        """New pile depth with a soft start (the outputs repeat the last frame meanwhile); the mode
        already running changes nothing."""
        pile = self.engine.pile
        self.engine.set_latency(mode)
        if self.engine.pile == pile:
            return
        self.stage.set_group_size(self.engine.group_size)
        self.stage.reset_latency()  # p50 of the new mode only
        log.info("latency -> %s (%d frames deep)", mode, self.engine.pile.frames)

    def _recover_from_oom(self, stop: threading.Event) -> None:
        self.oom_count += 1
        wait = self._backoff.failed()
        self._warn.warning("oom", "%s; retrying in %.1f s (%d so far)", self.oom_advice, wait, self.oom_count)
        self.groups.clear()
        self.engine.reset()
        free_memory()
        stop.wait(wait)
