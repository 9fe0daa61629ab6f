"""The RAIN release config (upstream `rain_morpher.yaml` schema) as a validated, frozen object."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import yaml

from rain_vtuber.errors import RainError

# Every key of the release schema; the model shapes come from these, so tiny and full size share code.
RELEASE_KEYS = {
    "batch_size", "height", "width", "reference_image_height", "reference_image_width",
    "temporal_adaptive_step", "temporal_window_size", "num_inference_steps", "dtype", "threshold",
    "guidance_scale", "tensorrt", "onnx_tensorrt", "onnx_opset", "fps", "landmark_detector",
    "dwpose_detection_model_path", "dwpose_landmark_model_path", "dwpose_tensorrt", "vae_model_path",
    "image_encoder_path", "reference_unet_weight_path", "denoising_unet_weight_path",
    "pose_guider_weight_path", "taesdv_weight_path", "unet_config_path", "tensorrt_target_model", "seed",
    "onnx_path", "onnx_opt_path", "vae_encoder_onnx_path", "clip_onnx_path", "reference_net_onnx_path",
    "unet_additional_kwargs", "noise_scheduler_kwargs",
}
REQUIRED_KEYS = {
    "height", "width", "reference_image_height", "reference_image_width", "temporal_adaptive_step",
    "temporal_window_size", "num_inference_steps", "guidance_scale", "seed", "unet_config_path",
    "unet_additional_kwargs", "noise_scheduler_kwargs",
}
# Pose guider channels are fixed upstream; its output width is the UNet's first block width.
POSE_GUIDER_BLOCKS = (16, 32, 96, 256)
PACKAGED_CONFIG = Path(__file__).with_name("release_config.yaml")
MOTION_WINDOW = 32  # frames the motion modules' positional encoding covers


@dataclass(frozen=True)
class PileLayout:
    """The shape of the stream's pile, read as upstream's `src/morpher.py` reads the release keys.

    groups = `temporal_window_size` (noise levels in the pile), group_size = `temporal_adaptive_step`
    (frames per group, poses per iteration), steps = `num_inference_steps` (a multiple of groups:
    every iteration runs steps // groups UNet calls, each followed by an LCM step).
    """

    groups: int
    group_size: int
    steps: int

    @property
    def frames(self) -> int:
        """K: latent frames in a full pile, also the poses pushed before the first frame leaves."""
        return self.groups * self.group_size

    @property
    def calls(self) -> int:
        """UNet calls (each with its LCM step) per iteration."""
        return self.steps // self.groups

    def problem(self) -> str | None:
        """Why the stream cannot run this layout (in the release keys' names), or None."""
        if min(self.groups, self.group_size, self.steps) < 1:
            return (f"temporal_window_size ({self.groups}), temporal_adaptive_step ({self.group_size}) and "
                    f"num_inference_steps ({self.steps}) must be positive")
        if self.steps % self.groups:
            return (f"num_inference_steps ({self.steps}) must be a multiple of temporal_window_size ({self.groups}): "
                    "each iteration runs num_inference_steps // temporal_window_size UNet calls")
        if self.frames > MOTION_WINDOW:
            return f"{self.groups} groups x {self.group_size} frames exceed the {MOTION_WINDOW}-frame motion window"
        return None


@dataclass(frozen=True)
class RainConfig:
    """What the engine needs from a release config + its unet.json, paths resolved."""

    root: Path
    height: int
    width: int
    reference_height: int
    reference_width: int
    groups: int  # noise-level groups in the pile (p): temporal_window_size
    group_size: int  # frames per group (K / p): temporal_adaptive_step
    num_inference_steps: int  # a multiple of groups
    guidance_scale: float
    seed: int
    unet: dict[str, Any]
    motion: dict[str, Any]
    scheduler: dict[str, Any]
    files: dict[str, Path]

    @property
    def pile(self) -> PileLayout:
        return PileLayout(self.groups, self.group_size, self.num_inference_steps)

    def with_pile(self, pile: PileLayout) -> "RainConfig":
        """This config with another pile layout (a latency mode) and everything else kept."""
        return replace(self, groups=pile.groups, group_size=pile.group_size, num_inference_steps=pile.steps)

    @property
    def latent_height(self) -> int:
        return self.height // 8

    @property
    def latent_width(self) -> int:
        return self.width // 8

    @classmethod
    def load(cls, path: Path, weights_dir: Path | None = None) -> "RainConfig":
        """Read a release config; relative weight paths resolve against weights_dir (else the file's folder).

        The release config names weights as `./weights/<file>`; a weights folder passed explicitly
        wins, so one config serves any download location.
        """
        path = Path(path)
        if not path.is_file():
            raise RainError(f"RAIN config not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise RainError(f"{path}: not valid YAML ({err})") from err
        if not isinstance(raw, dict):
            raise RainError(f"{path}: expected a mapping of config keys")
        unknown = sorted(set(raw) - RELEASE_KEYS)
        missing = sorted(REQUIRED_KEYS - set(raw))
        if unknown or missing:
            raise RainError(f"{path}: unknown keys {unknown}, missing keys {missing}")
        root = path.parent
        files = {
            "reference_unet": raw.get("reference_unet_weight_path", "./weights/reference_unet.pth"),
            "motion_unet": raw.get("denoising_unet_weight_path", "./weights/motion_unet.pth"),
            "pose_guider": raw.get("pose_guider_weight_path", "./weights/pose_guider.pth"),
            "taesdv": raw.get("taesdv_weight_path", "./weights/taesdv.pth"),
            "vae": raw.get("vae_model_path", "./weights/sd-vae-ft-mse"),
            "image_encoder": raw.get("image_encoder_path", "./weights/image_encoder"),
        }
        resolved = {k: _resolve(root, v, weights_dir) for k, v in files.items()}
        unet_path = _resolve(root, raw["unet_config_path"], None)
        if not unet_path.is_file() and weights_dir is not None:
            unet_path = Path(weights_dir) / unet_path.name
        if not unet_path.is_file():
            unet_path = Path(__file__).with_name("release_unet.json")
        unet = json.loads(unet_path.read_text())
        number = _numbers(raw, path)
        cfg = cls(
            root=root,
            height=number("height", int),
            width=number("width", int),
            reference_height=number("reference_image_height", int),
            reference_width=number("reference_image_width", int),
            groups=number("temporal_window_size", int),
            group_size=number("temporal_adaptive_step", int),
            num_inference_steps=number("num_inference_steps", int),
            guidance_scale=number("guidance_scale", float),
            seed=number("seed", int),
            unet=unet,
            motion=dict(raw["unet_additional_kwargs"]),
            scheduler=dict(raw["noise_scheduler_kwargs"]),
            files=resolved,
        )
        cfg.validate(path)
        return cfg

    def validate(self, path: Path) -> None:
        """RainError unless the stream can run with these settings (path: named in the message)."""
        for name in ("height", "width", "reference_height", "reference_width"):
            value = getattr(self, name)
            if value <= 0 or value % 64:
                raise RainError(f"{path}: {name} must be a positive multiple of 64, got {value}")
        if (why := self.pile.problem()) is not None:
            raise RainError(f"{path}: {why}")


def _numbers(raw: dict[str, Any], path: Path) -> Callable[[str, type], Any]:
    """key, int|float -> that release key's value as a number; RainError naming the key if it is not one."""

    def number(key: str, kind: type) -> Any:
        value = raw[key]
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return kind(value)
        except (TypeError, ValueError):
            raise RainError(f"{path}: {key} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None

    return number


def _resolve(root: Path, value: str, weights_dir: Path | None) -> Path:
    rel = Path(value)
    if weights_dir is not None:
        return Path(weights_dir) / rel.name
    return rel if rel.is_absolute() else (root / rel).resolve()
