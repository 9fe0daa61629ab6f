"""Strict loading: the full-size release layout, and errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rain_vtuber.errors import RainError
from rain_vtuber.model.checkpoints import check_state_dict, key_problems, load_into, manifest
from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig
from rain_vtuber.model.release import RainModels
from tests.engine.golden import TINY_CONFIG, TINY_WEIGHTS

CHECKPOINTS = ["reference_unet", "motion_unet", "pose_guider", "taesdv"]


@pytest.fixture
def full_models() -> RainModels:
    """Full-size networks on the meta device: free to build, weights arrive by load_into."""
    return RainModels.build(RainConfig.load(PACKAGED_CONFIG))


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_full_size_models_have_the_release_layout(full_models: RainModels, name: str) -> None:
    model = getattr(full_models, name)
    assert key_problems(manifest(name), {k: tuple(v.shape) for k, v in model.state_dict().items()}) == []
    assert len(model.state_dict()) == len(manifest(name))


def _random_state(name: str, drop_pe: bool = False) -> dict[str, torch.Tensor]:
    """A full-size random state dict from the manifest (fp16, as a release may store it)."""
    gen = torch.Generator().manual_seed(0)
    return {
        key: torch.randn(shape, generator=gen, dtype=torch.float32).to(torch.float16)
        for key, shape in manifest(name).items()
        if not (drop_pe and key.endswith(".pe"))
    }


@pytest.mark.slow  # full-size random weights, loaded
@pytest.mark.parametrize("drop_pe", [False, True])
def test_full_size_random_motion_unet_loads_strictly(tmp_path: Path, full_models: RainModels, drop_pe: bool) -> None:
    state = _random_state("motion_unet", drop_pe)
    assert len(state) == (1275 - 42 if drop_pe else 1275)
    check_state_dict("motion_unet", state)
    path = tmp_path / "motion_unet.pth"
    torch.save(state, path)
    key = "down_blocks.1.motion_modules.0.temporal_transformer.proj_out.weight"
    expected = state[key].float()
    del state
    model = load_into(full_models.motion_unet, path)
    assert torch.equal(model.get_parameter(key).float(), expected)
    pe = model.get_buffer("mid_block.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe")
    assert pe.device.type == "cpu" and pe.shape == (1, 32, 1280)
    if drop_pe:  # rebuilt: position 1, channel 1 is cos(1 * div_0) = cos(1)
        assert pe[0, 1, 1].item() == pytest.approx(torch.cos(torch.tensor(1.0)).item(), abs=1e-6)


@pytest.mark.slow  # full-size random weights, loaded
def test_full_size_reference_unet_pose_guider_taesdv_load(tmp_path: Path, full_models: RainModels) -> None:
    for name in ("reference_unet", "pose_guider", "taesdv"):
        path = tmp_path / f"{name}.pth"
        torch.save(_random_state(name), path)
        load_into(getattr(full_models, name), path)
        path.unlink()


def test_renamed_key_is_named(tmp_path: Path) -> None:
    state = torch.load(TINY_WEIGHTS / "pose_guider.pth", weights_only=True)
    state["blocks.0.weights"] = state.pop("blocks.0.weight")
    path = tmp_path / "pose_guider.pth"
    torch.save(state, path)
    models = RainModels.build(RainConfig.load(TINY_CONFIG))
    with pytest.raises(RainError) as err:
        load_into(models.pose_guider, path)
    assert "missing keys (1): blocks.0.weight" in str(err.value)
    assert "unexpected keys (1): blocks.0.weights" in str(err.value)
    with pytest.raises(RainError, match="missing keys .*conv_out.bias"):
        check_state_dict("pose_guider", {k: v for k, v in state.items() if k != "conv_out.bias"})


def test_missing_file_says_where_and_how(tmp_path: Path) -> None:
    models = RainModels.build(RainConfig.load(TINY_CONFIG))
    with pytest.raises(RainError) as err:
        load_into(models.taesdv, tmp_path / "taesdv.pth")
    message = str(err.value)
    assert "taesdv.pth" in message and str(tmp_path) in message and "weights download" in message


def test_missing_pretrained_folder(tmp_path: Path) -> None:
    cfg = RainConfig.load(TINY_CONFIG, weights_dir=tmp_path)
    with pytest.raises(RainError, match="reference_unet.pth not found"):
        RainModels.load(cfg)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text(TINY_CONFIG.read_text().replace("height: 128\n", "height: 100\n", 1))
    with pytest.raises(RainError, match="height must be a positive multiple of 64, got 100"):
        RainConfig.load(bad)
    bad.write_text(TINY_CONFIG.read_text() + "\nbogus_key: 1\n")
    with pytest.raises(RainError, match="unknown keys \\['bogus_key'\\]"):
        RainConfig.load(bad)
