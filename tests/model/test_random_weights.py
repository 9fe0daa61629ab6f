"""Random full-size weights: bit-exact against golden_full README section 2 (vectors + fingerprints)."""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib

import numpy as np
import pytest
import torch
from torch import nn

from rain_vtuber.model import random_weights as rw
from tests.conftest import GOLDEN_FULL, missing_path, requires

FINGERPRINTS = GOLDEN_FULL / "weights_fingerprints.json"
PE_TABLES = GOLDEN_FULL / "pe_tables.safetensors"
BIG = ("reference_unet", "motion_unet", "sd_vae_ft_mse", "image_encoder")
SAMPLE = 50

pytestmark = requires(missing_path(GOLDEN_FULL))

# README 2.7: (checkpoint, key, shape, crc32, seed, first two MT outputs, first uniform, z[0:3], float32 bits)
VECTORS = [
    ("pose_guider", "conv_in.bias", (16,), 373700257, 373699914, (3897663756, 2158076876), 0.5509092819530621,
     (-0.4353912647696939, -1.4970895239970514, 2.060351323898128), (0xBC0EAB44, 0xBCF5487C, 0x3D28C8B3)),
    ("pose_guider", "conv_in.weight", (16, 3, 3, 3), 2336429416, 2336429699, (2081643278, 1237291086),
     0.60486521152462, (-0.8750445914183933, -0.2515931054017201, -0.022048133944986916),
     (0xBE9B331D, 0xBDB27E03, 0xBBFA45A7)),
    ("taesdv", "encoder.14.bias", (4,), 1634998537, 1634999013, (367709130, 2217695846), 0.337376840757156,
     (-0.12456933796055504, -1.6764042482979404, -2.0313216308336868), (0xBB234689, 0xBD0954BF, 0xBD2667E7)),
    ("motion_unet", "down_blocks.0.motion_modules.0.temporal_transformer.norm.weight", (320,), 3680299284,
     3680299774, (1004045929, 304934640), 0.7664075236311572,
     (-1.4493161131632808, 1.7197522043612694, 0.5755399068720057), (0x3F5AE5C3, 0x3F960349, 0x3F875DEE)),
    ("image_encoder", "vision_model.embeddings.class_embedding", (1024,), 974200313, 974200343,
     (2213866880, 2526396150), 0.6539919797050675, (0.12644291457658594, -1.4000504267421021, 1.6574020759315236),
     (0x3B817A40, 0xBD3334DA, 0x3D5425C0)),
]


def _mt_outputs(seed: int, count: int) -> list[int]:
    """Raw 32-bit MT19937 outputs seeded with init_genrand (numpy's legacy seeding)."""
    return [int(x) for x in np.random.RandomState(seed)._bit_generator.random_raw(count)]


def _reference_draw(seed: int, numel: int) -> list[float]:
    """README 2.4 pseudo-code, independent of torch: MT19937 uniforms + Box-Muller in blocks of 16."""
    n = max(numel, 16)
    raw = iter(_mt_outputs(seed, 2 * (n + 16)))

    def uniform() -> float:
        return (((next(raw) << 32) | next(raw)) & (2**53 - 1)) * 2.0**-53

    d = [uniform() for _ in range(n)]

    def box16(o: int) -> None:
        for j in range(8):
            r = math.sqrt(-2.0 * math.log(1.0 - d[o + j]))
            th = 2.0 * math.pi * d[o + j + 8]
            d[o + j], d[o + j + 8] = r * math.cos(th), r * math.sin(th)

    for o in range(0, n - 15, 16):
        box16(o)
    if n % 16:
        for i in range(16):
            d[n - 16 + i] = uniform()
        box16(n - 16)
    return d[:numel]


def _sha(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


@pytest.fixture(scope="module")
def fingerprints() -> dict:
    return json.loads(FINGERPRINTS.read_text())["checkpoints"]


@pytest.fixture(scope="module")
def pe_tables() -> dict[int, torch.Tensor]:
    return rw.load_pe_tables(PE_TABLES)


@pytest.mark.parametrize("vector", VECTORS, ids=[v[1] for v in VECTORS])
def test_readme_test_vectors(vector: tuple) -> None:
    name, key, shape, crc, seed, outputs, uniform, z3, bits = vector
    assert zlib.crc32(key.encode()) == crc
    assert rw.tensor_seed(key, rw.RULES[name].base_seed) == seed
    a, b = _mt_outputs(seed, 2)
    assert (a, b) == outputs
    assert (((a << 32) | b) & (2**53 - 1)) * 2.0**-53 == uniform
    numel = math.prod(shape)
    assert rw.standard_normal(seed, numel)[:3].tolist() == list(z3)
    value = rw.random_tensor(rw.TensorSpec(key, shape), rw.RULES[name]).flatten()[:3]
    assert [_f32_bits(v) for v in value.tolist()] == list(bits)


def test_mt19937_check_value() -> None:
    assert _mt_outputs(373699914, 4) == [3897663756, 2158076876, 4204377181, 2388274953]


@pytest.mark.parametrize("numel", [1, 16, 37, 80])
def test_torch_draw_matches_the_written_algorithm(numel: int) -> None:
    """Including the tail rule (numel not a multiple of 16): torch float64 randn == README 2.4."""
    seed = 123456789
    assert rw.standard_normal(seed, numel).tolist() == _reference_draw(seed, numel)


def test_computed_pe_tables_equal_the_normative_tables(pe_tables: dict[int, torch.Tensor]) -> None:
    """Without the stored tables the generator computes them, equal up to float32 exp/sin/cos: their
    last bits follow the CPU (identical on an AVX2 EPYC; 1 element in 80 off by up to 1.9e-6 on an
    AVX-512 Xeon), which is why the stored tables are the normative ones."""
    assert sorted(pe_tables) == [320, 640, 1280]
    for channels, table in pe_tables.items():
        spec = rw.TensorSpec("x.pos_encoder.pe", (1, 32, channels), "buffer")
        torch.testing.assert_close(rw.random_tensor(spec, rw.RULES["motion_unet"]), table, rtol=0, atol=4e-6)


def test_packaged_manifests_match_the_golden_manifests() -> None:
    for name in rw.CHECKPOINTS:
        golden = rw.load_manifest(name, GOLDEN_FULL.parent / "golden" / "manifests")
        assert rw.load_manifest(name) == golden, name


def _check(name: str, specs: list[rw.TensorSpec], fingerprints: dict, pe_tables: dict) -> None:
    expected = fingerprints[name]
    bad = [key for key, t in rw.iter_random_state(name, specs, pe_tables) if _sha(t) != expected[key]["sha256"]]
    assert not bad, f"{name}: {len(bad)} tensors differ, first {bad[:5]}"


@pytest.mark.parametrize("name", ["pose_guider", "taesdv"])
def test_small_checkpoints_match_fingerprints(name: str, fingerprints: dict, pe_tables: dict) -> None:
    specs = rw.load_manifest(name)
    assert [s.key for s in specs] == list(fingerprints[name])
    _check(name, specs, fingerprints, pe_tables)


@pytest.mark.parametrize("name", BIG)
def test_big_checkpoints_sample_matches_fingerprints(name: str, fingerprints: dict, pe_tables: dict) -> None:
    """~50 evenly spaced tensors plus every non-random/special row the checkpoint has."""
    specs = rw.load_manifest(name)
    assert [s.key for s in specs] == list(fingerprints[name])
    step = max(1, len(specs) // SAMPLE)
    special = [s for s in specs if s.kind == "buffer" or not s.key.endswith((".weight", ".bias"))]
    sample = list({s.key: s for s in specs[::step] + special + specs[-1:]}.values())
    _check(name, sample, fingerprints, pe_tables)


@pytest.mark.slow
@pytest.mark.parametrize("name", BIG)
def test_big_checkpoints_all_tensors_match_fingerprints(name: str, fingerprints: dict, pe_tables: dict) -> None:
    _check(name, rw.load_manifest(name), fingerprints, pe_tables)


class _PoseGuiderShape(nn.Module):
    """A module with the full-size pose guider's state_dict keys and shapes."""

    def __init__(self) -> None:
        super().__init__()
        chans = [(16, 16), (16, 32), (32, 32), (32, 96), (96, 96), (96, 256)]
        self.conv_in = nn.Conv2d(3, 16, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in chans)
        self.conv_out = nn.Conv2d(256, 320, 3, padding=1)


def test_fill_module_in_place_matches_fingerprints(fingerprints: dict) -> None:
    module = _PoseGuiderShape()
    weight = module.conv_in.weight
    rw.fill_module_(module, "pose_guider")
    assert module.conv_in.weight is weight  # filled in place, not replaced
    for key, t in module.state_dict().items():
        assert _sha(t) == fingerprints["pose_guider"][key]["sha256"], key


def test_fill_module_materialises_a_meta_model(fingerprints: dict) -> None:
    with torch.device("meta"):
        module = _PoseGuiderShape()
    rw.fill_module_(module, "pose_guider")
    assert not any(t.is_meta for t in module.state_dict().values())
    for key, t in module.state_dict().items():
        assert _sha(t) == fingerprints["pose_guider"][key]["sha256"], key


def test_fast_draw_keeps_the_rule_scales() -> None:
    """Benchmark weights: other values, same seeds per key, same per-row scale, target dtype."""
    with torch.device("meta"):
        module = _PoseGuiderShape()
    rw.fill_module_(module, "pose_guider", draw=rw.fast_draw(dtype=torch.float64), dtype=torch.float64)
    weight = module.conv_out.weight
    assert weight.dtype == torch.float64
    assert abs(weight.std().item() - 1.8 / math.sqrt(256 * 9)) < 0.01 * weight.std().item()
    assert abs(module.conv_out.bias.std().item() - 0.02) < 0.005


def test_fill_module_names_a_key_the_manifest_lacks() -> None:
    module = _PoseGuiderShape()
    module.register_parameter("extra_scale", nn.Parameter(torch.ones(3)))
    with pytest.raises(KeyError, match="extra_scale"):
        rw.fill_module_(module, "pose_guider")


def test_fill_module_any_size_from_its_own_keys() -> None:
    """Tiny models: the rule applied to the module's own state_dict, reproducible and rule-shaped."""
    first, second = nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4)), nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4))
    for module in (first, second):
        rw.fill_module_(module, "motion_unet", rw.specs_of_module(module))
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), key
    spec = rw.TensorSpec("0.weight", (4, 8))
    expected = (rw.standard_normal(rw.tensor_seed("0.weight", 1002), 32).reshape(4, 8) / math.sqrt(8)).float()
    assert torch.allclose(first[0].weight, expected, rtol=0, atol=1e-7)
    assert torch.equal(first[0].weight, rw.random_tensor(spec, rw.RULES["motion_unet"]))
    assert (first[1].weight - 1).abs().max() < 1  # LayerNorm scale: 1 + 0.1 z
