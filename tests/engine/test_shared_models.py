"""Engines built on one set of models (the device check's and bench's backends) stay independent.

Each engine installs the reference-attention processors and the motion modules' residual weight on
the networks it is given. An engine built later must not take them from one built earlier: the
earlier one must still fuse its own character, stream with its own reference keys and values, and
keep its own damping, even with the two stepping in turns.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rain_vtuber.engine import RainEngine
from rain_vtuber.model.random_release import Architecture, random_models

STEPS = 6  # iterations per engine: the first frames leave after 4 (the tiny pile's groups)


def _inputs(engine: RainEngine, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (engine.height, engine.width, 3), dtype=np.uint8)
    poses = rng.integers(0, 256, (STEPS, engine.group_size, engine.height, engine.width, 3), dtype=np.uint8)
    return image, poses


def _start(engine: RainEngine, image: np.ndarray, damp: float) -> None:
    engine.set_reference(engine.fuse_reference(image))
    engine._scale_motion(damp)  # as the health guard does when it damps


def _alone(engine: RainEngine, image: np.ndarray, poses: np.ndarray, damp: float) -> list[np.ndarray]:
    _start(engine, image, damp)
    return [engine.step(p).frames for p in poses]


@pytest.mark.slow  # two tiny engines stepping in turns
def test_an_engine_built_later_leaves_the_earlier_one_its_character_and_damping() -> None:
    torch.manual_seed(0)
    arch = Architecture.tiny()
    models = random_models(arch, arch.config(), torch.device("cpu"), torch.float32)
    probe = RainEngine(models, cache_dir=None)
    (image_a, poses_a), (image_b, poses_b) = _inputs(probe, 1), _inputs(probe, 2)
    expected_a = _alone(RainEngine(models, cache_dir=None), image_a, poses_a, damp=1.0)
    expected_b = _alone(RainEngine(models, cache_dir=None), image_b, poses_b, damp=0.5)
    assert not np.array_equal(expected_a[-1], expected_b[-1])

    first = RainEngine(models, cache_dir=None)
    second = RainEngine(models, cache_dir=None)  # built after `first`, on the same networks
    _start(first, image_a, damp=1.0)
    _start(second, image_b, damp=0.5)
    for i in range(STEPS):
        np.testing.assert_array_equal(first.step(poses_a[i]).frames, expected_a[i], err_msg=f"first engine, step {i}")
        np.testing.assert_array_equal(second.step(poses_b[i]).frames, expected_b[i], err_msg=f"second engine, step {i}")
    assert sum(len(frames) for frames in expected_a) > 0
