"""The tiny golden set read in place from ../shared (never copied into the repo), for the engine tests."""

from __future__ import annotations

from functools import partial

import torch

from rain_vtuber.model.reference_attention import STATE_NAMES
from rain_vtuber.engine import golden_replay
from rain_vtuber.engine.golden_replay import GoldenSet, max_abs_error
from rain_vtuber.stream.reference import ReferenceStates
from tests.conftest import TINY, TINY_CONFIG, TINY_WEIGHTS

__all__ = ["STATE_NAMES", "TINY", "TINY_CONFIG", "TINY_WEIGHTS", "GOLDEN", "golden", "golden_reference", "close",
           "check_fp16_states", "replay_stream"]

TINY_SET = GoldenSet(TINY)
GOLDEN = TINY_SET.folder
golden = TINY_SET.tensors
golden_reference = TINY_SET.reference
replay_stream = partial(golden_replay.replay_stream, TINY_SET)


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-4, what: str = "") -> None:
    """Max-abs comparison in float64 (default: the 1e-4 the engine issue asks); prints the error (-rA)."""
    err = max_abs_error(actual, expected)
    print(f"{what}: max abs error {err:.3g} (atol {atol})")
    assert err <= atol, f"{what}: max abs error {err:.3g} > {atol}"


def check_fp16_states(states: ReferenceStates, ref: dict[str, torch.Tensor], atol: float, max_fraction: float) -> None:
    """Our fp16 hand-over of each state is within `atol` (+ fp16 rounding) of the fp32 golden, and
    at most `max_fraction` of the elements differ (by one ulp) from the golden fp16 banks."""
    differ = total = 0
    for name in STATE_NAMES:
        ours, exact = states.states[name].float(), ref[f"ref_hidden.{name}"]
        assert ((ours - exact).abs() <= atol + exact.abs() * 2.0**-10).all(), f"ref state {name} (fp16)"
        differ += (ours != ref[f"ref_bank_fp16.{name}"].float()).sum().item()
        total += ours.numel()
    assert differ / total <= max_fraction, f"{differ / total:.2%} of the fp16 reference states differ"
