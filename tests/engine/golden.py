"""Loading the tiny golden set in place from ../shared (never copied into the repo)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import load_file

from rain_vtuber.engine import RainEngine, ReplayNoise
from rain_vtuber.engine.reference import ReferenceStates

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TINY = SHARED / "golden" / "tiny"
TINY_CONFIG = TINY / "config.yaml"
TINY_WEIGHTS = TINY / "weights"
GOLDEN = TINY / "golden"


@lru_cache(maxsize=None)
def golden(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(GOLDEN / f"{name}.safetensors"))


# The 16 reference states, named as in the upstream TensorRT graph (golden README 5.2).
STATE_NAMES = ["d00", "d01", "d10", "d11", "d20", "d21", "m", "u10", "u11", "u12", "u20", "u21", "u22", "u30", "u31", "u32"]


def golden_reference() -> ReferenceStates:
    """The reference states exactly as upstream consumed them (fp16 banks)."""
    ref = golden("reference")
    return ReferenceStates(ref["encoder_hidden_states"], {n: ref[f"ref_bank_fp16.{n}"] for n in STATE_NAMES})


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-4, what: str = "") -> None:
    """Max-abs comparison in float64 (default: the 1e-4 the engine issue asks); prints the error (-rA)."""
    actual, expected = actual.detach().to(torch.float64), expected.to(torch.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = (actual - expected).abs().max().item()
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


def replay_stream(engine: RainEngine, decoder: str, reference: ReferenceStates) -> tuple[list[torch.Tensor], list[dict]]:
    """Six golden iterations (golden noise and poses) from `reference`: output frames and per-iteration records."""
    stream = golden("stream")
    noises = []
    dtype = engine.stream.dtype
    for k in range(6):
        noises += [stream[f"it{k}.new_group_noise"].to(dtype), stream[f"it{k}.scheduler_noise"].to(dtype)]
    engine.stream.noise = ReplayNoise(noises)
    engine.stream.decoder_kind = decoder
    engine.stream.reset()
    engine.stream.set_reference(reference)
    poses = golden("pose")["pose_images"]
    outputs, records = [], []
    for k in range(6):
        record: dict = {}
        frames = engine.stream.iterate(poses[4 * k : 4 * k + 4].permute(0, 3, 1, 2).float() / 255, record)
        records.append(record)
        if frames is not None:
            outputs.append(frames)
    return outputs, records
