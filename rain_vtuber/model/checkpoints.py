"""Strict loading of the release checkpoints, with errors that name the file and the keys."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn

from rain_vtuber.errors import RainError

MANIFESTS = Path(__file__).with_name("manifests")
# Buffers that may be present or absent in a checkpoint (the model rebuilds them).
OPTIONAL_SUFFIXES = (".pos_encoder.pe",)
RELEASE_HINT = "run `rain-vtuber weights download` or pass --weights DIR with the RAIN-v0.1 release files"


@dataclass(frozen=True)
class TensorSpec:
    """One checkpoint entry: state_dict key, shape and kind ("parameter" or "buffer")."""

    key: str
    shape: tuple[int, ...]
    kind: str = "parameter"

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def load_manifest(name: str, manifest_dir: Path = MANIFESTS) -> list[TensorSpec]:
    """Read a packaged manifest (`{"tensors": [[key, shape, kind], ...]}`) in state_dict order.

    Also accepts the verbose golden form (`{"tensors": [{"key", "shape", "kind", ...}]}`).
    """
    path = Path(manifest_dir) / f"{name}.json"
    rows = json.loads(path.read_text())["tensors"]
    return [
        TensorSpec(r["key"], tuple(r["shape"]), r["kind"]) if isinstance(r, dict) else TensorSpec(r[0], tuple(r[1]), r[2])
        for r in rows
    ]


@lru_cache(maxsize=None)
def manifest(name: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a full-size release checkpoint (packaged from the reference manifests)."""
    return {spec.key: spec.shape for spec in load_manifest(name)}


def _optional(key: str) -> bool:
    return key.endswith(OPTIONAL_SUFFIXES)


def key_problems(expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Human-readable differences between two key -> shape maps (optional buffers ignored)."""
    missing = sorted(k for k in expected if k not in found and not _optional(k))
    unexpected = sorted(k for k in found if k not in expected)
    shapes = sorted(
        f"{k}: expected {list(expected[k])}, found {list(found[k])}"
        for k in expected.keys() & found.keys()
        if tuple(expected[k]) != tuple(found[k])
    )
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_short(unexpected)}")
    if shapes:
        problems.append(f"wrong shapes ({len(shapes)}): {_short(shapes)}")
    return problems


def _short(items: Iterable[str], limit: int = 8) -> str:
    items = list(items)
    text = ", ".join(items[:limit])
    return text + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def check_state_dict(name: str, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise RainError unless `state_dict` has exactly the keys and shapes of release checkpoint `name`."""
    problems = key_problems(manifest(name), {k: tuple(v.shape) for k, v in state_dict.items()})
    if problems:
        raise RainError(f"{name} does not match the RAIN release layout: " + "; ".join(problems))


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """torch.load a release .pth (a plain key -> tensor dict) memory-mapped, weights only."""
    path = Path(path)
    if not path.is_file():
        raise RainError(f"checkpoint {path.name} not found (looked at {path}); {RELEASE_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # a truncated download or a foreign file
        raise RainError(f"cannot read checkpoint {path}: {err}; delete it and download again") from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RainError(f"{path} is not a plain state dict of tensors")
    return state


def load_into(model: nn.Module, path: Path) -> nn.Module:
    """Load `path` strictly into `model` (built on the meta device or not) and return it.

    Strict means the checkpoint's keys and shapes equal the model's, except the optional
    positional-encoding buffers, which are kept from the model when absent.
    """
    state = read_checkpoint(path)
    own = model.state_dict()
    problems = key_problems({k: tuple(v.shape) for k, v in own.items()}, {k: tuple(v.shape) for k, v in state.items()})
    if problems:
        raise RainError(f"{path} does not fit the configured model: " + "; ".join(problems))
    for key, value in own.items():
        if key not in state:
            state[key] = value if value.device.type != "meta" else _rebuild(model, key)
    model.load_state_dict(state, strict=True, assign=True)
    return model


def _rebuild(model: nn.Module, key: str) -> torch.Tensor:
    """Recompute an optional buffer the checkpoint left out (a positional-encoding table)."""
    from rain_vtuber.model.motion_module import sinusoid_table

    _, length, channels = model.get_buffer(key).shape
    return sinusoid_table(channels, length)
