"""Loading the tiny golden set in place from ../shared (never copied into the repo)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import load_file

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TINY = SHARED / "golden" / "tiny"
TINY_CONFIG = TINY / "config.yaml"
TINY_WEIGHTS = TINY / "weights"
GOLDEN = TINY / "golden"


@lru_cache(maxsize=None)
def golden(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(GOLDEN / f"{name}.safetensors"))
