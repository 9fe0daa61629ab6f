"""The fused static-shape step reproduces the eager stream once past the soft start (tiny weights, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rain_vtuber.accel.backends import AcceleratedStream
from rain_vtuber.accel.fused_step import FusedRunner, FusedStreamStep
from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.model import reference_attention
from rain_vtuber.stream.noise import SeededNoise
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.model.config import PileLayout
from rain_vtuber.model.motion_module import TemporalTransformer
from tests.accel.accel_fixtures import golden_poses, golden_reference, tiny_engine

ITERATIONS = 5  # 3 soft-start iterations, then 2 full windows (the second reads fed-back state)


@pytest.fixture(scope="module")
def engine() -> RainEngine:
    return tiny_engine()


def run(engine: RainEngine, stream) -> list[torch.Tensor | None]:
    engine.stream = stream
    engine.reset()
    engine.set_reference(golden_reference())
    poses = golden_poses()[: 4 * ITERATIONS].permute(0, 3, 1, 2).float() / 255
    return [stream.iterate(poses[4 * k : 4 * k + 4]) for k in range(ITERATIONS)]


@pytest.mark.slow  # traces, fuses and runs the tiny stream step twice
def test_fused_step_matches_eager_stream(engine: RainEngine) -> None:
    eager_stream = engine.stream
    eager = run(engine, eager_stream)

    step = FusedStreamStep(eager_stream)
    runner = FusedRunner(step, step, lambda shape: eager_stream.noise(shape), eager_stream.w_embedding)
    accelerated = AcceleratedStream(eager_stream, runner, "torch-fused")
    fused = run(engine, accelerated)
    engine.stream = eager_stream

    assert runner.active, "the runner took over after the soft start"
    assert [f is None for f in fused] == [True, True, True, False, False]
    for k in (3, 4):
        err = (fused[k].double() - eager[k].double()).abs().max().item()
        assert err <= 1e-5, f"iteration {k}: fused differs from eager by {err:.3g}"
    assert not torch.equal(fused[3], fused[4])
    # the state fed back keeps its static shapes, and the reference buffers hold the character
    shapes = step.spec.input_shapes()
    assert [tuple(t.shape) for t in runner.state] == [shapes[n] for n in step.spec.state_names()]
    assert len(step.spec.state_names()) == 12
    kv = reference_attention.project(step.unet, golden_reference().states, step.spec.dtype)
    assert torch.equal(runner.refs["ref_d00_k"], kv["d00_k"]) and torch.equal(runner.refs["ref_u32_v"], kv["u32_v"])


@pytest.mark.slow  # traces, fuses and runs the tiny stream step twice
def test_damped_fused_step_matches_eager_and_refreshes_the_noisiest_groups(engine: RainEngine) -> None:
    """The health guard's actions after the soft start: the fused step reads the motion modules'
    shared residual scale (filled in place); a refresh draws fresh noise for the groups before the
    newest. (Its frames cannot equal eager's after a refresh: the fused step draws the next group's
    noise one call ahead, so the refresh's draws come later in the sequence.)"""
    scale = next(m for m in engine.models.motion_unet.modules() if isinstance(m, TemporalTransformer)).residual_scale
    eager_stream = engine.stream
    step = FusedStreamStep(eager_stream)
    runner = FusedRunner(step, step, lambda shape: eager_stream.noise(shape), eager_stream.w_embedding)

    def damped(stream) -> list[torch.Tensor | None]:
        engine.stream = stream
        engine.reset()
        engine.set_reference(golden_reference())
        poses = golden_poses()[: 4 * ITERATIONS].permute(0, 3, 1, 2).float() / 255
        frames = []
        for k in range(ITERATIONS):
            frames.append(stream.iterate(poses[4 * k : 4 * k + 4]))
            if k == 3:
                scale.fill_(0.5)
        return frames

    try:
        eager = damped(eager_stream)
        fused = damped(AcceleratedStream(eager_stream, runner, "torch-fused"))
        before = runner.state[0].clone()
        engine.stream.refresh(2)
        after = runner.state[0]
    finally:
        engine.stream = eager_stream
        engine.reset()
    undisturbed = run(engine, eager_stream)
    assert scale.item() == 1.0, "a reset undoes the damping"
    err = (fused[4].double() - eager[4].double()).abs().max().item()
    assert err <= 1e-5, f"damped, fused differs from eager by {err:.3g}"
    assert torch.equal(eager[3], undisturbed[3]) and not torch.equal(eager[4], undisturbed[4])
    changed = [not torch.equal(a, b) for a, b in zip(before.split(4, dim=2), after.split(4, dim=2))]
    assert changed == [False, True, True, False], "the two groups before the newest get fresh noise"


def test_character_switch_writes_into_the_same_buffers(engine: RainEngine) -> None:
    step = FusedStreamStep(engine.stream)
    runner = FusedRunner(step, step, lambda shape: engine.stream.noise(shape), engine.stream.w_embedding)
    addresses = {name: t.data_ptr() for name, t in runner.refs.items()}
    states = golden_reference()
    runner.set_reference(states)
    other = type(states)(states.context * -1, {k: v * 2 for k, v in states.states.items()})
    runner.set_reference(other)
    assert {name: t.data_ptr() for name, t in runner.refs.items()} == addresses
    assert torch.equal(runner.refs["ref_u32_v"], reference_attention.project(step.unet, other.states, step.spec.dtype)["u32_v"])
    assert torch.equal(runner.refs["context"], other.context)


def test_step_spec_matches_the_golden_shapes(engine: RainEngine) -> None:
    spec = FusedStreamStep(engine.stream).spec
    shapes = spec.input_shapes()
    assert shapes["latents"] == (1, 4, 16, 16, 16) and shapes["pose_pile"] == (1, 32, 12, 16, 16)
    assert shapes["ref_d00_k"] == (1, 256, 32) and shapes["ref_m_v"] == (1, 4, 64) and shapes["ref_u12_k"] == (1, 16, 64)
    assert [s[-1] for s in spec.memories] == [16] * 3 + [32] * 3 + [64] * 3 + [128]
    assert spec.output_shapes()["frames"] == (4, 128, 128, 3)
    assert np.prod(shapes["step_noise"]) == 4 * 16 * 16 * 16


@pytest.mark.slow  # a fused step per pile layout
@pytest.mark.parametrize("pile", [PileLayout(4, 2, 4), PileLayout(4, 4, 8), PileLayout(2, 2, 4)],
                         ids=["low K=8", "2 calls", "two-level 2 calls"])
def test_fused_step_matches_eager_for_other_piles(engine: RainEngine, pile: PileLayout) -> None:
    """The latency modes and k-call piles: one step noise per UNet call, same frames as eager."""
    g = pile.group_size
    poses = golden_poses()[: g * (pile.groups + 1)].permute(0, 3, 1, 2).float() / 255

    def stream() -> RainStream:
        s = RainStream(engine.models, SeededNoise(0, engine.device, torch.float32), "taesdv", pile)
        s.set_reference(golden_reference())
        return s

    def iterate(s) -> list[torch.Tensor | None]:
        return [s.iterate(poses[k * g : (k + 1) * g]) for k in range(pile.groups + 1)]

    eager = iterate(stream())
    base = stream()
    step = FusedStreamStep(base)
    runner = FusedRunner(step, step, base.noise, base.w_embedding)
    runner.set_reference(golden_reference())
    fused = iterate(AcceleratedStream(base, runner, "torch-fused"))
    assert runner.active and step.spec.input_shapes()["step_noise"] == (pile.calls, 4, pile.frames, 16, 16)
    for k in (pile.groups - 1, pile.groups):
        err = (fused[k].double() - eager[k].double()).abs().max().item()
        assert err <= 1e-5, f"iteration {k}: fused differs from eager by {err:.3g}"
