"""The release schema read as upstream reads it, every pile layout it allows, and the latency modes.

Upstream (`src/morpher.py`): temporal_window_size = groups in the pile, temporal_adaptive_step =
frames per group, num_inference_steps // temporal_window_size UNet calls per iteration on the ladder
timesteps[linspace(steps, 0, window + 1)[1:]] minus one step length per further call.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from diffusers import LCMScheduler

from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.model.latency import latency_pile
from rain_vtuber.stream.noise import SeededNoise
from rain_vtuber.stream.reference import ReferenceStates
from rain_vtuber.stream.stream import RainStream
from rain_vtuber.errors import RainError
from rain_vtuber.model.config import PileLayout, RainConfig
from rain_vtuber.model.lcm import StreamScheduler, guidance_embedding
from tests.engine.golden import STATE_NAMES, TINY, TINY_CONFIG, TINY_WEIGHTS, golden

# (groups, frames per group, steps) -> the UNet calls of one full iteration, oldest group first
LAYOUTS = {
    "standard K=16": ((4, 4, 4), [[249, 499, 749, 999]]),
    "low K=8": ((4, 2, 4), [[249, 499, 749, 999]]),
    "quality 2 calls": ((4, 4, 8), [[249, 499, 749, 999], [124, 374, 624, 874]]),
    "two-level": ((2, 2, 2), [[499, 999]]),
    "two-level 2 calls": ((2, 4, 4), [[499, 999], [249, 749]]),
}


def tiny_config(tmp_path: Path, **keys: int) -> Path:
    """The tiny golden config with some release keys changed (weights stay in the golden folder)."""
    raw = yaml.safe_load(TINY_CONFIG.read_text())
    raw.update(keys, unet_config_path=str(TINY / "unet.json"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def golden_reference() -> ReferenceStates:
    ref = golden("reference")
    return ReferenceStates(ref["encoder_hidden_states"], {n: ref[f"ref_bank_fp16.{n}"] for n in STATE_NAMES})


@pytest.fixture(scope="module")
def engine() -> RainEngine:
    engine = RainEngine.load(TINY_WEIGHTS, TINY_CONFIG, cache_dir=None, decoder="vae")
    engine.set_reference(golden_reference())
    return engine


def test_config_reads_window_as_groups_and_adaptive_step_as_frames(tmp_path: Path) -> None:
    cfg = RainConfig.load(tiny_config(tmp_path, temporal_window_size=2, temporal_adaptive_step=4, num_inference_steps=6))
    assert (cfg.groups, cfg.group_size, cfg.num_inference_steps) == (2, 4, 6)
    assert (cfg.pile.frames, cfg.pile.calls) == (8, 3)


@pytest.mark.parametrize(("keys", "message"), [
    ({"num_inference_steps": 6}, "num_inference_steps (6) must be a multiple of temporal_window_size (4)"),
    ({"temporal_adaptive_step": 9}, "4 groups x 9 frames exceed the 32-frame motion window"),
    ({"temporal_window_size": 0}, "must be positive"),
])
def test_config_rejects_layouts_upstream_cannot_run(tmp_path: Path, keys: dict[str, int], message: str) -> None:
    with pytest.raises(RainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RainConfig.load(tiny_config(tmp_path, **keys))


@pytest.mark.parametrize("name", LAYOUTS)
def test_ladder(name: str) -> None:
    (groups, _, steps), calls = LAYOUTS[name]
    cfg = RainConfig.load(TINY_CONFIG)
    assert StreamScheduler(cfg.scheduler, steps).ladder(groups).tolist() == calls


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_runs_its_calls_pile_and_poses(engine: RainEngine, name: str) -> None:
    """Per iteration: group_size poses in, steps // groups UNet calls on the (soft-start) ladder; the
    pile grows one group per iteration to `groups`, then each iteration emits one group of frames."""
    (groups, group_size, steps), full_ladder = LAYOUTS[name]
    pile = PileLayout(groups, group_size, steps)
    stream = RainStream(engine.models, SeededNoise(0, engine.device, torch.float32), "vae", pile)
    stream.set_reference(golden_reference())
    seen: list[tuple[int, list[int]]] = []
    hook = engine.models.motion_unet.register_forward_pre_hook(
        lambda _m, args: seen.append((args[0].shape[2], args[1][0].tolist())))
    poses = golden("pose")["pose_images"].permute(0, 3, 1, 2).float() / 255
    try:
        with pytest.raises(AssertionError, match=f"expected {group_size} pose frames"):
            stream.iterate(poses[: group_size + 1])
        for it in range(groups + 1):
            seen.clear()
            frames = stream.iterate(poses[it * group_size : (it + 1) * group_size])
            n = min(it + 1, groups)
            expected = [[t for t in call[-n:] for _ in range(group_size)] for call in full_ladder]
            assert seen == [(n * group_size, e) for e in expected], f"iteration {it}"
            assert len(stream.latents) == (n if it < groups - 1 else groups - 1)
            assert (frames is None) == (it < groups - 1), f"iteration {it}"
            if frames is not None:
                assert frames.shape == (group_size, 128, 128, 3)
    finally:
        hook.remove()


def _run(engine: RainEngine, poses: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Push poses one by one; (pushes so far, frame) for every frame pulled."""
    out = []
    for i, pose in enumerate(poses, start=1):
        engine.push(pose)
        while (frame := engine.pull()) is not None:
            out.append((i, frame))
    return out


def test_first_frame_after_16_poses_in_standard_and_8_in_low_switching_at_runtime(engine: RainEngine) -> None:
    poses = golden("pose")["pose_images"].numpy()
    unet = engine.models.motion_unet
    engine.set_latency("standard")
    engine.reset()
    assert [i for i, _ in _run(engine, poses[:20])] == [16] * 4 + [20] * 4
    engine.set_latency("low")  # mid-stream: a soft start on the same networks
    assert (engine.pile.frames, engine.group_size, engine.models.motion_unet) == (8, 2, unet)
    low = _run(engine, poses[:12])
    assert [i for i, _ in low] == [8, 8, 10, 10, 12, 12]
    fresh = RainEngine(engine.models, decoder="vae", latency="low")
    fresh.set_reference(golden_reference())
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(low, _run(fresh, poses[:12]), strict=True))
    engine.set_latency("standard")
    assert [i for i, _ in _run(engine, poses[:16])] == [16] * 4


def test_unknown_latency_mode_is_one_line_error(engine: RainEngine) -> None:
    with pytest.raises(RainError, match="unknown latency mode 'turbo'; use one of: standard, low"):
        engine.set_latency("turbo")


# ---- an independent K = 8 stream, written from upstream's process_input, not from RainStream --------


def upstream_loop(engine: RainEngine, poses: np.ndarray, window: int, adaptive: int, steps: int) -> list[np.ndarray]:
    """Upstream's latents_pile loop (PyTorch path, SD-VAE decode), with one pose per frame of a group.

    Only the networks and the scheduler's alpha table come from the project.
    """
    models, cfg = engine.models, engine.models.config
    generator = torch.Generator("cpu").manual_seed(cfg.seed)
    alphas = LCMScheduler(**cfg.scheduler).alphas_cumprod.float()
    train = 1000
    table = torch.from_numpy(np.round(np.arange(train, 0, -train / steps)).astype(np.int64) - 1)  # trailing
    ut = table[torch.linspace(steps, 0, window + 1)[1:].long()]
    step_length, jump = train // steps, steps // window
    context = golden("reference")["encoder_hidden_states"]
    w = guidance_embedding(cfg.guidance_scale)
    latents_pile: deque[torch.Tensor] = deque()
    pose_pile: deque[torch.Tensor] = deque()
    full, frames = False, []
    h, w_ = cfg.latent_height, cfg.latent_width
    with torch.no_grad():
        for start in range(0, len(poses), adaptive):
            pose = torch.from_numpy(poses[start : start + adaptive]).permute(0, 3, 1, 2).float() / 255
            pose_pile.append(models.pose_guider(pose).transpose(0, 1)[None])
            latents_pile.append(torch.randn((1, 4, adaptive, h, w_), generator=generator))
            while len(pose_pile) > window:
                pose_pile.popleft()
            while len(latents_pile) > window:
                latents_pile.popleft()
            if len(latents_pile) == window:
                full, lo, hi = True, 0, window
            else:
                lo, hi = (0, len(latents_pile)) if full else (-len(latents_pile), window)
            x = torch.cat(list(latents_pile), dim=2)
            for j in range(jump):
                t = (ut[lo:hi] - step_length * j).repeat_interleave(adaptive)[None]
                v = models.motion_unet(x, t, context, torch.cat(list(pose_pile), dim=2), w)
                x = lcm_step(alphas, v, t, x, torch.randn(x.shape, generator=generator), step_length)
            for i in range(len(latents_pile)):
                latents_pile[i] = x[:, :, i * adaptive : (i + 1) * adaptive]
            if full:
                clean = latents_pile.popleft() * (1 / 0.18215)
                video = models.vae.decode(clean[0].transpose(0, 1)).sample
                frames += list((video / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1))
    return [(f * 255).round().to(torch.uint8).numpy() for f in frames]


def lcm_step(alphas: torch.Tensor, v: torch.Tensor, t: torch.Tensor, x: torch.Tensor, z: torch.Tensor, step_length: int) -> torch.Tensor:
    """LCM multistep, v-prediction, per-frame t (golden README 5.5)."""
    shape = (1, 1, -1, 1, 1)
    a_t = alphas[t].reshape(shape)
    prev_t = t - step_length
    a_prev = torch.where(prev_t >= 0, alphas[prev_t.clamp(min=0)], torch.ones(())).reshape(shape)
    scaled = (t.float() * 10).reshape(shape)
    c_skip, c_out = 0.25 / (scaled**2 + 0.25), scaled / (scaled**2 + 0.25) ** 0.5
    denoised = c_out * (a_t.sqrt() * x - (1 - a_t).sqrt() * v) + c_skip * x
    return a_prev.sqrt() * denoised + (1 - a_prev).sqrt() * z


def test_low_latency_frames_match_an_independent_upstream_loop(engine: RainEngine) -> None:
    poses = golden("pose")["pose_images"].numpy()[:16]
    engine.set_latency("low")
    engine.reset()
    ours = _run(engine, poses)
    theirs = upstream_loop(engine, poses, window=4, adaptive=2, steps=4)
    assert [i for i, _ in ours] == [8, 8, 10, 10, 12, 12, 14, 14, 16, 16]
    assert len(theirs) == len(ours) == 10
    for k, ((_, a), b) in enumerate(zip(ours, theirs)):
        diff = np.abs(a.astype(int) - b.astype(int)).max()
        assert diff <= 1, f"frame {k}: max difference {diff} levels"
    assert not np.array_equal(ours[0][1], ours[2][1])


def test_latency_pile_of_the_release_config() -> None:
    cfg = RainConfig.load(TINY_CONFIG)
    assert latency_pile(cfg, "standard") == PileLayout(4, 4, 4)
    assert latency_pile(cfg, "low") == PileLayout(4, 2, 4)
