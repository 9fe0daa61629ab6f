"""Latency modes: how deep the pile is, i.e. how many frames a pose waits before it is shown.

standard is the release configuration (K = 16: 4 noise levels x 4 frames); low is the paper's
K = 8 (Table 3): the same 4 noise levels and 4 steps with 2 frames per group, so a pose leaves
the pile after half as many frames, at some cost in temporal continuity (FVD).
"""

from __future__ import annotations

from dataclasses import replace

from rain_vtuber.errors import RainError
from rain_vtuber.model.config import PileLayout, RainConfig

LATENCY_MODES = ("standard", "low")
LOW_GROUP_SIZE = 2  # frames per group in low latency (paper Table 3, K = 8)


def check_mode(mode: str) -> str:
    """`mode` if it is a latency mode, else a one-line RainError naming the choices."""
    if mode not in LATENCY_MODES:
        raise RainError(f"unknown latency mode {mode!r}; use one of: {', '.join(LATENCY_MODES)}")
    return mode


def latency_pile(config: RainConfig, mode: str) -> PileLayout:
    """The pile a latency mode runs with this release config."""
    pile = config.pile
    if check_mode(mode) == "low":
        pile = replace(pile, group_size=min(LOW_GROUP_SIZE, pile.group_size))
    return pile


def pile_ms(pile: PileLayout, fps: float) -> float:
    """The pile's depth in milliseconds at `fps` output frames per second (before any compute)."""
    return pile.frames * 1000.0 / fps
