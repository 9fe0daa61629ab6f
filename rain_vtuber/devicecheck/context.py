"""What the device-check steps share: the options and the random-weight models they all stream on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rain_vtuber.engine.golden_replay import GoldenSet
from rain_vtuber.model.release import RainModels, parse_dtype

STEP_NAMES = ("environment", "fidelity", "memory", "speed", "daemon")


@dataclass
class CheckContext:
    """Options of one run, plus the models built once (speed, memory and the daemon use the same ones).

    tiny: the tiny test architecture at 128x128 (CI, CPU); else the release architecture at 512x512.
    """

    device: torch.device
    tiny: bool
    dtype: str  # of the speed, memory and daemon steps; fidelity runs fp32, fp16 and bf16
    golden: GoldenSet
    iterations: int
    daemon_seconds: float
    backends: tuple[str, ...]
    compile_mode: str
    setup_s: float = field(default=0.0, init=False)  # drawing the random weights
    stream_engine: Any = field(default=None, init=False)  # the fastest engine of the speed step: the daemon streams on it
    _models: RainModels | None = field(default=None, init=False, repr=False)

    @property
    def model_name(self) -> str:
        return "tiny" if self.tiny else "release"

    def models(self) -> RainModels:
        """Random weights of the architecture, drawn on the device the first time (no download)."""
        if self._models is None:
            from rain_vtuber.model.random_release import Architecture, random_models

            arch = Architecture.tiny() if self.tiny else Architecture.release()
            started = time.perf_counter()
            self._models = random_models(arch, arch.config(), self.device, parse_dtype(self.dtype))
            self.setup_s = time.perf_counter() - started
        return self._models

    def options(self) -> dict[str, Any]:
        """The run's settings as recorded in the JSON."""
        return {"device": str(self.device), "tiny": self.tiny, "model": self.model_name, "dtype": self.dtype,
                "golden": str(self.golden.root), "iterations": self.iterations, "daemon_seconds": self.daemon_seconds,
                "backends": list(self.backends), "compile_mode": self.compile_mode}


def default_golden() -> Path:
    """../shared/golden/tiny beside the repository this package runs from."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "tiny"
