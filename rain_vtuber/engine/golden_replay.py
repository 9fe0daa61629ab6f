"""Replaying the tiny golden set (../shared/golden/tiny, read in place) through an engine on any device.

Shared by the golden tests and `rain-vtuber device-check`, so both hold the stream to the same
recorded noise, poses and reference states, and to the same error bounds (`STREAM_ATOL`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rain_vtuber.model.reference_attention import STATE_NAMES
from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.stream.noise import ReplayNoise
from rain_vtuber.stream.reference import ReferenceStates

# Max-abs bound of the golden stream's output frames per engine dtype: fp32 is the engine issue's
# 1e-4; fp16 and bf16 measured 5e-3 and 4e-2 on CPU, so their bounds leave about 2x and 1.5x margin.
STREAM_ATOL = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 6e-2}
ITERATIONS = 6  # golden stream iterations; frames leave from the fourth on (soft start of 3)
# What a replay reads of each golden file (key prefixes): a machine that gets only these saves the rest.
REPLAY_KEYS = {
    "stream": tuple(f"it{k}.{name}" for k in range(ITERATIONS) for name in ("new_group_noise", "scheduler_noise", "output_frames")),
    "pose": ("pose_images",),
    "reference": ("encoder_hidden_states", "ref_bank_fp16."),
}


class GoldenSet:
    """One golden folder (config.yaml, weights/, golden/*.safetensors); each tensor file loaded once."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = self.root / "config.yaml"
        self.weights = self.root / "weights"
        self.folder = self.root / "golden"
        self._loaded: dict[str, dict[str, torch.Tensor]] = {}

    def missing(self) -> str | None:
        """What is absent (None when the set is complete enough to replay)."""
        for path in (self.config, self.weights, self.folder / "stream.safetensors"):
            if not path.exists():
                return f"{path} not found (the tiny golden set, ../shared/golden/tiny)"
        return None

    def tensors(self, name: str) -> dict[str, torch.Tensor]:
        if name not in self._loaded:
            self._loaded[name] = load_file(str(self.folder / f"{name}.safetensors"))
        return self._loaded[name]

    def reference(self) -> ReferenceStates:
        """The reference states exactly as upstream consumed them (fp16 banks)."""
        ref = self.tensors("reference")
        return ReferenceStates(ref["encoder_hidden_states"], {n: ref[f"ref_bank_fp16.{n}"] for n in STATE_NAMES})


def write_replay_set(golden: GoldenSet, dest: Path) -> int:
    """Copy what a replay needs (configs, weights, the replayed tensors) to `dest`; returns its bytes.

    About 43 MiB of the set's 54: small enough to carry to a GPU machine beside the wheels.
    """
    dest = Path(dest)
    shutil.copytree(golden.weights, dest / "weights", dirs_exist_ok=True)
    for path in golden.root.glob("*.*"):  # config.yaml and the network configs it names
        shutil.copy2(path, dest / path.name)
    (dest / "golden").mkdir(exist_ok=True)
    for name, prefixes in REPLAY_KEYS.items():
        kept = {k: v for k, v in golden.tensors(name).items() if k.startswith(prefixes)}
        save_file(kept, str(dest / "golden" / f"{name}.safetensors"))
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def replay_stream(golden: GoldenSet, engine: RainEngine, decoder: str,
                  reference: ReferenceStates) -> tuple[list[torch.Tensor], list[dict]]:
    """Six golden iterations (golden noise and poses) from `reference` on the engine's device:
    output frames (G, H, W, 3) in [0, 1] and per-iteration records."""
    stream = golden.tensors("stream")
    device, dtype = engine.device, engine.stream.dtype
    noises = []
    for k in range(ITERATIONS):
        noises += [stream[f"it{k}.{name}"].to(device, dtype) for name in ("new_group_noise", "scheduler_noise")]
    engine.stream.noise = ReplayNoise(noises)
    engine.stream.decoder_kind = decoder
    engine.stream.reset()
    engine.stream.set_reference(reference.to(device))
    poses = golden.tensors("pose")["pose_images"].to(device)
    outputs, records = [], []
    for k in range(ITERATIONS):
        record: dict = {}
        frames = engine.stream.iterate(poses[4 * k : 4 * k + 4].permute(0, 3, 1, 2).float() / 255, record)
        records.append(record)
        if frames is not None:
            outputs.append(frames)
    return outputs, records


def max_abs_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute difference, computed in float64 on the CPU (shapes must match)."""
    if actual.shape != expected.shape:
        raise ValueError(f"shape {tuple(actual.shape)} differs from the golden {tuple(expected.shape)}")
    return (actual.detach().cpu().double() - expected.cpu().double()).abs().max().item()


def stream_errors(golden: GoldenSet, outputs: list[torch.Tensor]) -> list[float]:
    """Max-abs error of each replayed group of frames (SD VAE decode) against the golden output frames."""
    stream = golden.tensors("stream")
    first = ITERATIONS - len(outputs)
    return [max_abs_error(frames, stream[f"it{first + i}.output_frames"]) for i, frames in enumerate(outputs)]
