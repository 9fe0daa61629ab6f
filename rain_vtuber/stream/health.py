"""Stream health guard: catch RAIN's lingering colour drift and steer the stream back.

RAIN's pile lets a small disturbance feed forward: temporal attention copies an abnormal colour
from the cleaner groups into the new ones, for up to ~600 frames (paper, limitations). The guard
watches a cheap per-frame statistic of the output (per-channel mean and spread of the RGB frame),
learns its baseline over the first frames after every (re)start or character switch, and on a
sustained excursion escalates: damp the motion modules' residual and refresh the noisiest groups,
then a soft restart; if even that does not bring the statistic back, it takes the new look as the
baseline (a changed scene must not restart the stream forever). With no excursion it does nothing.

`HealthGuard` is pure bookkeeping on numpy statistics; `RainEngine` computes the statistic on the
device and carries out the actions it returns.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import numpy as np
import torch

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a normal distribution


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the guard, in output frames and in colour units of frames in [0, 1]."""

    learn_frames: int = 32  # frames that make the baseline
    threshold: float = 5.0  # robust z-score beyond which a frame is out of band
    floor: float = 0.01  # least spread: a still character must not turn noise into triggers
    sustain: int = 6  # consecutive out-of-band frames that make a trigger (and in-band ones a recovery)
    damp_scale: float = 0.5  # motion residual weight while recovering (the paper's remedy)
    refresh_groups: int = 2  # noisiest groups in flight replaced with fresh noise on a trigger
    restart_after: int = 16  # frames still out of band after a trigger before a soft restart (a pile's worth:
    # the disturbed groups have to leave the pile before damping and refreshing can show)
    rebaseline_after: int = 32  # frames still out of band after a soft restart before taking them as the baseline


class Action(enum.Enum):
    """What the engine does after a frame: nothing, damp + refresh, soft restart, or undo the damping."""

    NONE = "none"
    DAMP = "damp"
    RESTART = "restart"
    RESTORE = "restore"


class State(str, enum.Enum):
    LEARNING = "learning"
    HEALTHY = "healthy"
    RECOVERING = "recovering"


def frame_statistics(frames: torch.Tensor) -> torch.Tensor:
    """(G, H, W, 3) in [0, 1] -> (G, 6) float32: per-channel mean and standard deviation, on the frames' device."""
    assert frames.ndim == 4 and frames.shape[-1] == 3, f"expected (G, H, W, 3) frames, got {tuple(frames.shape)}"
    std, mean = torch.std_mean(frames.float(), dim=(1, 2))
    return torch.cat([mean, std], dim=1)


class HealthGuard:
    """Per-frame health bookkeeping: baseline, band, trigger and escalation, with counters for status."""

    def __init__(self, settings: HealthSettings = HealthSettings()):
        self.settings = settings
        self.triggers = self.dampings = self.refreshes = self.soft_restarts = self.rebaselines = 0
        self.relearn()

    def relearn(self, skip: int = 0) -> None:
        """Forget the baseline and learn a new one, ignoring the next `skip` frames (a character
        blending in). Called on every reset, character or latency switch."""
        self.state = State.LEARNING
        self._skip = skip
        self._samples: list[np.ndarray] = []
        self._centre = self._spread = np.zeros(0)
        self._out = self._in = self._since_action = 0
        self._restarted = False

    def status(self) -> dict[str, object]:
        return {"state": self.state.value, "triggers": self.triggers, "dampings": self.dampings,
                "refreshes": self.refreshes, "soft_restarts": self.soft_restarts, "rebaselines": self.rebaselines}

    def deviation(self, stats: np.ndarray) -> float:
        """Largest robust z-score of one frame's statistics against the baseline (0 while learning)."""
        if self.state is State.LEARNING:
            return 0.0
        return float(np.max(np.abs(stats - self._centre) / self._spread))

    def observe(self, stats: np.ndarray) -> Action:
        """One iteration's (G, 6) frame statistics -> the action for the engine (at most one per call:
        the frames after the one that calls for it were made before it could take effect)."""
        for frame in stats:
            if (action := self._observe_frame(frame)) is not Action.NONE:
                return action
        return Action.NONE

    def _observe_frame(self, stats: np.ndarray) -> Action:
        if self.state is State.LEARNING:
            self._learn(stats)
            return Action.NONE
        out = self.deviation(stats) > self.settings.threshold
        self._out, self._in = (self._out + 1, 0) if out else (0, self._in + 1)
        if self.state is State.HEALTHY:
            return self._trigger() if self._out >= self.settings.sustain else Action.NONE
        return self._recover()

    def _learn(self, stats: np.ndarray) -> None:
        if self._skip > 0:
            self._skip -= 1
            return
        self._samples.append(stats)
        if len(self._samples) < self.settings.learn_frames:
            return
        samples = np.stack(self._samples)
        self._centre = np.median(samples, axis=0)
        mad = np.median(np.abs(samples - self._centre), axis=0)
        self._spread = np.maximum(MAD_TO_SIGMA * mad, self.settings.floor)
        self.state, self._samples = State.HEALTHY, []
        log.info("stream health: baseline learnt over %d frames (RGB mean %s)", self.settings.learn_frames,
                 np.round(self._centre[:3], 3).tolist())

    def _trigger(self) -> Action:
        self.triggers += 1
        self.dampings += 1
        self.refreshes += 1
        self.state, self._since_action, self._restarted = State.RECOVERING, 0, False
        log.warning("stream health: colour off its baseline for %d frames; damping temporal attention to %g and "
                    "refreshing %d groups (trigger %d)", self._out, self.settings.damp_scale,
                    self.settings.refresh_groups, self.triggers)
        return Action.DAMP

    def _recover(self) -> Action:
        if self._in >= self.settings.sustain:
            self.state = State.HEALTHY
            log.info("stream health: back within the baseline band")
            return Action.RESTORE
        self._since_action += 1
        if self._since_action < (self.settings.rebaseline_after if self._restarted else self.settings.restart_after):
            return Action.NONE
        if not self._restarted:
            self.soft_restarts += 1
            self._since_action, self._restarted = 0, True
            log.warning("stream health: still off after %d frames; soft restart", self.settings.restart_after)
            return Action.RESTART
        self.rebaselines += 1
        log.warning("stream health: still off after a soft restart; taking the new look as the baseline")
        self.relearn()
        return Action.RESTORE
