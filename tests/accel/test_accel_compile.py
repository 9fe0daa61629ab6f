"""torch.compile (inductor) of the tiny fused step on CPU matches eager PyTorch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rain_vtuber.accel.compile import compile_step, use_inductor_cache
from rain_vtuber.accel.fused_step import FusedStreamStep, example_inputs
from tests.accel.accel_fixtures import tiny_engine


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache home, TORCHINDUCTOR_CACHE_DIR unset now and restored afterwards."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "unset")  # records the original value for the undo
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(tmp_path))
    return tmp_path


def test_inductor_cache_goes_under_the_cache_home_unless_set(fresh_home: Path, tmp_path: Path) -> None:
    assert use_inductor_cache() == fresh_home / "inductor" and (fresh_home / "inductor").is_dir()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path / "mine")
    assert use_inductor_cache() == tmp_path / "mine"


@pytest.mark.slow  # inductor's C++ build of the whole step takes ~3-11 min on 2 cores (cold cache)
def test_compiled_step_matches_eager_on_cpu(fresh_home: Path) -> None:
    step = FusedStreamStep(tiny_engine().stream)
    inputs = example_inputs(step.spec, "cpu")
    with torch.no_grad():
        expected = step(*inputs)
    compiled = compile_step(step)
    with torch.no_grad():
        actual = compiled(*inputs)
    assert any((fresh_home / "inductor").iterdir()), "inductor wrote its cache under the cache home"
    for name, a, e in zip(step.spec.output_shapes(), actual, expected):
        assert a.shape == e.shape, name
        assert (a - e).abs().max().item() <= 1e-4, name
