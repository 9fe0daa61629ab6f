"""Where the stream's randomness comes from: seeded by default, injectable for replay."""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol

import torch


class NoiseSource(Protocol):
    """Returns standard-normal noise of `shape`; called twice per iteration (new group, then step noise)."""

    def __call__(self, shape: tuple[int, ...]) -> torch.Tensor: ...

    def reset(self) -> None: ...


class SeededNoise:
    """torch.randn from a generator on the engine's device, re-seeded on reset (reproducible runs)."""

    def __init__(self, seed: int, device: torch.device, dtype: torch.dtype):
        self.seed, self.device, self.dtype = seed, device, dtype
        self.generator = torch.Generator(device=device)
        self.reset()

    def reset(self) -> None:
        self.generator.manual_seed(self.seed)

    def __call__(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=torch.float32).to(self.dtype)


class ReplayNoise:
    """Hands out recorded tensors in order (golden replays); fails loudly when it runs out."""

    def __init__(self, tensors: Iterable[torch.Tensor]):
        self._all = list(tensors)
        self._it: Iterator[torch.Tensor] = iter(self._all)

    def reset(self) -> None:
        self._it = iter(self._all)

    def __call__(self, shape: tuple[int, ...]) -> torch.Tensor:
        tensor = next(self._it)
        if tuple(tensor.shape) != tuple(shape):
            raise ValueError(f"replayed noise has shape {tuple(tensor.shape)}, the stream asked for {shape}")
        return tensor
