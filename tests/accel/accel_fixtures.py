"""Tiny engine and golden reference states for the accel tests (read in place from ../shared)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from rain_vtuber.model.reference_attention import STATE_NAMES
from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.stream.reference import ReferenceStates

TINY = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "tiny"


def tiny_engine() -> RainEngine:
    torch.manual_seed(0)
    return RainEngine.load(TINY / "weights", TINY / "config.yaml", cache_dir=None)


def golden_reference() -> ReferenceStates:
    ref = load_file(str(TINY / "golden" / "reference.safetensors"))
    return ReferenceStates(ref["encoder_hidden_states"], {n: ref[f"ref_bank_fp16.{n}"] for n in STATE_NAMES})


def golden_poses() -> torch.Tensor:
    """(24, 128, 128, 3) uint8 rendered pose frames."""
    return load_file(str(TINY / "golden" / "pose.safetensors"))["pose_images"]
