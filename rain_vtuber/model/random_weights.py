"""Random RAIN weights, regenerated bit-exactly from the checkpoint manifests.

Benchmarks and the full-size parity test need the release architecture without a 10 GB
download. This implements the normative procedure of `../shared/golden_full/README.md`,
section 2: every tensor is drawn on its own (seed = crc32(key) XOR base_seed, float64
`torch.randn` from a fresh CPU generator, n = max(numel, 16) values), scaled in float64 by
its key/shape rule and rounded once to float32. Generation is tensor by tensor, so a caller
never holds more than one checkpoint (or, filling a module in place, one extra tensor).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rain_vtuber.model.checkpoints import TensorSpec, load_manifest

Draw = Callable[[int, tuple[int, ...]], torch.Tensor]  # (seed, shape) -> standard normals
MIN_DRAW = 16  # torch's vectorised Box-Muller works in blocks of 16
BIAS_STD = 0.02
NORM_STD = 0.1


@dataclass(frozen=True)
class WeightRule:
    """Per-checkpoint constants of the procedure: the seed offset and the gain of conv/linear weights."""

    base_seed: int
    gain: float = 1.0


# golden_full README 2.2, "Per-checkpoint constants"; keyed by manifest name.
RULES: dict[str, WeightRule] = {
    "reference_unet": WeightRule(1001),
    "motion_unet": WeightRule(1002),
    "pose_guider": WeightRule(1003, gain=1.8),
    "taesdv": WeightRule(1004),
    "sd_vae_ft_mse": WeightRule(1005),
    "image_encoder": WeightRule(1006),
}
CHECKPOINTS = tuple(RULES)


def specs_of_module(module: nn.Module) -> list[TensorSpec]:
    """The state_dict entries of a module as specs: random weights for any size (e.g. the tiny set)."""
    buffers = {name for name, _ in module.named_buffers()}
    return [
        TensorSpec(key, tuple(t.shape), "buffer" if key in buffers else "parameter")
        for key, t in module.state_dict().items()
    ]


def tensor_seed(key: str, base_seed: int) -> int:
    """Seed of one tensor: CRC-32 of the UTF-8 key XOR the checkpoint's base seed (unsigned 32-bit)."""
    return (zlib.crc32(key.encode("utf-8")) ^ base_seed) & 0xFFFFFFFF


def standard_normal(seed: int, numel: int) -> torch.Tensor:
    """numel standard normals, 1-D float64, drawn as max(numel, 16) with a fresh CPU generator.

    float64 because torch's float32 CPU randn differs in the last bits between CPU capabilities;
    the float64 kernel is the same scalar code everywhere.
    """
    generator = torch.Generator("cpu").manual_seed(seed)
    z = torch.randn(max(numel, MIN_DRAW), generator=generator, dtype=torch.float64)
    return z[:numel]


def load_pe_tables(path: Path) -> dict[int, torch.Tensor]:
    """The normative pe tables (`pe_C320`, ...) keyed by channel count."""
    from safetensors.torch import load_file

    return {int(name.removeprefix("pe_C")): table for name, table in load_file(str(path)).items()}


def random_tensor(
    spec: TensorSpec,
    rule: WeightRule,
    pe_tables: dict[int, torch.Tensor] | None = None,
    draw: Draw | None = None,
) -> torch.Tensor:
    """The tensor the procedure assigns to one manifest entry (float32; int64 for position_ids).

    `draw(seed, shape)` replaces the exact float64 draw (e.g. `fast_draw` for benchmarks); the
    result then keeps the draw's dtype and device.
    """
    key, shape = spec.key, spec.shape
    if key.endswith(".pe"):  # row 1: sinusoid table, not random
        from rain_vtuber.model.motion_module import sinusoid_table

        channels = shape[-1]
        table = pe_tables[channels] if pe_tables and channels in pe_tables else sinusoid_table(channels, shape[-2])
        return table.reshape(shape).clone()
    if key.endswith("position_ids"):  # row 2
        return torch.arange(spec.numel, dtype=torch.int64).reshape(shape)
    if spec.kind == "buffer":
        raise ValueError(f"{key}: the weight procedure defines no value for this buffer")
    seed = tensor_seed(key, rule.base_seed)
    z = draw(seed, shape) if draw else standard_normal(seed, spec.numel).reshape(shape).clone()
    if key.endswith(".bias"):  # row 3
        z.mul_(BIAS_STD)
    elif key.endswith(".weight") and len(shape) == 1:  # row 4: two roundings, no fused multiply-add
        z.mul_(NORM_STD).add_(1.0)
    elif key.endswith(".weight"):  # row 5
        z.mul_(rule.gain / math.sqrt(math.prod(shape[1:])))
    else:  # row 6
        z.div_(math.sqrt(shape[-1]))
    return z.to(torch.float32) if z.dtype == torch.float64 else z


def fast_draw(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Draw:
    """Same per-key seeds and scales, drawn directly in `dtype` on `device`: not the golden values,
    but seconds instead of a minute for the full release (benchmarks do not depend on values)."""
    generator = torch.Generator(device=device)

    def draw(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=generator.manual_seed(seed), device=device, dtype=dtype)

    return draw


def iter_random_state(
    name: str,
    specs: Iterable[TensorSpec] | None = None,
    pe_tables: dict[int, torch.Tensor] | None = None,
) -> Iterator[tuple[str, torch.Tensor]]:
    """(key, tensor) in manifest order for checkpoint `name`; specs default to its packaged manifest."""
    rule = RULES[name]
    for spec in load_manifest(name) if specs is None else specs:
        yield spec.key, random_tensor(spec, rule, pe_tables)


def random_state_dict(
    name: str,
    specs: Iterable[TensorSpec] | None = None,
    pe_tables: dict[int, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """A whole checkpoint as a state_dict (holds it all: use fill_module_ for big models)."""
    return dict(iter_random_state(name, specs, pe_tables))


def fill_module_(
    module: nn.Module,
    name: str,
    specs: Iterable[TensorSpec] | None = None,
    pe_tables: dict[int, torch.Tensor] | None = None,
    *,
    draw: Draw | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """Give a module checkpoint `name`'s random weights, tensor by tensor; returns the module.

    Real tensors are overwritten in place (their dtype and device kept); tensors on the meta
    device are replaced by new ones on `device` in `dtype` (integer buffers keep their dtype), so
    a model built on the meta device is materialised without ever holding a second copy.
    specs default to the packaged manifest (full size); pass `specs_of_module(module)` for other
    sizes. Every module entry must be covered; manifest buffers the module does not keep in its
    state_dict (non-persistent position_ids / pe) are skipped.
    """
    targets = module.state_dict(keep_vars=True)
    specs = list(load_manifest(name) if specs is None else specs)
    covered = {spec.key for spec in specs}
    missing = [key for key in targets if key not in covered]
    absent = [spec.key for spec in specs if spec.key not in targets and spec.kind != "buffer"]
    if missing or absent:
        raise KeyError(f"{name}: module keys not in the manifest {missing[:5]}, manifest keys not in the module {absent[:5]}")
    rule = RULES[name]
    with torch.no_grad():
        for spec in specs:
            target = targets.get(spec.key)
            if target is None:
                continue
            if tuple(target.shape) != spec.shape:
                raise ValueError(f"{name}: {spec.key} has shape {tuple(target.shape)} in the module, {spec.shape} in the manifest")
            value = random_tensor(spec, rule, pe_tables, draw)
            if target.is_meta:
                _assign(module, spec.key, value.to(device, dtype if value.is_floating_point() else value.dtype))
            else:
                target.copy_(value)
    return module


def _assign(module: nn.Module, key: str, value: torch.Tensor) -> None:
    owner_name, _, leaf = key.rpartition(".")
    owner = module.get_submodule(owner_name)
    if leaf in owner._parameters:
        owner._parameters[leaf] = nn.Parameter(value, requires_grad=owner._parameters[leaf].requires_grad)
    else:
        owner._buffers[leaf] = value
