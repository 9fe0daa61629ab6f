"""Reference fusion: a character image -> CLIP token + the 16 ReferenceNet states, cached on disk.

As upstream `RAINMorpher.fuse_reference`: CLIP sees the picture as given (transformers'
CLIPImageProcessor: short side to 224, centre crop, CLIP normalisation); only the VAE input is
resized (PIL Lanczos, diffusers' VaeImageProcessor) to the model size.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save

from rain_vtuber.stream.placement import FusionPlacement
from rain_vtuber.model import reference_attention
from rain_vtuber.model.release import RainModels
from rain_vtuber.utils.atomic import atomic_write

log = logging.getLogger(__name__)

FUSION_VERSION = "2"  # part of the cache key: bump when the states of a given picture change
VAE_SCALE = 0.18215
CLIP_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ReferenceStates:
    """What the denoiser needs from a character: CLIP context (1, 1, D) and 16 states (1, h*w, C) in fp16

    (fp16 is what upstream hands to the denoiser in every precision, so the goldens use it too).
    """

    context: torch.Tensor
    states: dict[str, torch.Tensor]

    def to(self, device: torch.device | str) -> "ReferenceStates":
        return ReferenceStates(self.context.to(device), {k: v.to(device) for k, v in self.states.items()})

    def save(self, path: Path) -> None:
        tensors = {"context": self.context, **{f"state.{k}": v for k, v in self.states.items()}}
        atomic_write(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))

    @classmethod
    def load(cls, path: Path, device: torch.device | str) -> "ReferenceStates":
        tensors = load_file(str(path), device=str(device))
        states = {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
        return cls(tensors["context"], states)


def clip_size(height: int, width: int) -> tuple[int, int]:
    """(width, height) after the short side goes to 224, the long side truncated as transformers does."""
    short, long = min(height, width), max(height, width)
    long = int(CLIP_SIZE * long / short)
    return (CLIP_SIZE, long) if width <= height else (long, CLIP_SIZE)


def clip_pixels(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB, any size -> (1, 3, 224, 224) float32: bicubic short side 224, centre crop, CLIP normalise."""
    h, w = image.shape[:2]
    resized = np.asarray(Image.fromarray(image).resize(clip_size(h, w), Image.BICUBIC))
    top, left = (resized.shape[0] - CLIP_SIZE) // 2, (resized.shape[1] - CLIP_SIZE) // 2
    crop = resized[top : top + CLIP_SIZE, left : left + CLIP_SIZE]
    x = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.asarray(CLIP_MEAN, np.float32)) / np.asarray(CLIP_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def vae_pixels(image: np.ndarray, height: int, width: int) -> torch.Tensor:
    """HxWx3 uint8 RGB -> (1, 3, height, width) float32 in [-1, 1], PIL-Lanczos-resized to the model size
    (diffusers' VaeImageProcessor, as upstream)."""
    if image.shape[:2] != (height, width):
        image = np.asarray(Image.fromarray(image).resize((width, height), Image.LANCZOS))
    return torch.from_numpy(image.astype(np.float32) / 255 * 2 - 1).permute(2, 0, 1)[None].contiguous()


class ReferenceFuser:
    """Runs CLIP, the VAE encoder and ReferenceNet (t = 0) once per character image."""

    def __init__(self, models: RainModels, cache_dir: Path | None = None, keep_fusion_models: bool = False):
        self.models = models
        self.cache_dir = cache_dir
        self.placement = FusionPlacement(models, keep=keep_fusion_models)  # off the device between fusions
        self.bank = reference_attention.install(models.reference_unet, reference_attention.WriteReferenceProcessor)
        self._weights_key = _weights_fingerprint(models)

    def cache_path(self, image: np.ndarray) -> Path | None:
        if self.cache_dir is None:
            return None
        cfg = self.models.config
        h = hashlib.sha256(np.ascontiguousarray(image).tobytes())
        h.update(f"v{FUSION_VERSION}|{image.shape}|{self._weights_key}|{cfg.reference_height}x{cfg.reference_width}|{self.models.dtype}".encode())
        return self.cache_dir / f"{h.hexdigest()[:32]}.safetensors"

    def fuse(self, image: np.ndarray) -> ReferenceStates:
        """HxWx3 uint8 RGB, any size -> ReferenceStates on the engine device (from the cache when possible)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"reference image must be HxWx3 uint8 RGB, got {image.shape} {image.dtype}")
        path = self.cache_path(image)
        if path is not None and path.is_file():
            try:
                log.info("reference states from cache %s", path.name)
                return ReferenceStates.load(path, self.models.device)
            except Exception as err:  # a torn cache file: recompute
                log.warning("ignoring unreadable reference cache %s: %s", path, err)
        states = self.compute(image)
        if path is not None:
            try:
                states.save(path)
            except Exception as err:  # a full disk (OSError, SafetensorError) costs the cache, not the character
                log.warning("could not cache the reference states in %s: %s", path, err)
        return states

    def compute(self, image: np.ndarray) -> ReferenceStates:
        """HxWx3 uint8 RGB, any size -> states: CLIP sees the picture as given, the VAE a resized copy."""
        cfg = self.models.config
        return self.compute_from(clip_pixels(image), vae_pixels(image, cfg.reference_height, cfg.reference_width))

    def compute_from(self, clip_input: torch.Tensor, vae_input: torch.Tensor) -> ReferenceStates:
        """The networks of fusion on prepared inputs: CLIP (1, 3, 224, 224), VAE (1, 3, H, W) in [-1, 1];
        brought onto the compute device for it (and parked again unless kept)."""
        with self.placement.on_device():
            return self._run_networks(clip_input, vae_input)

    @torch.no_grad()
    def _run_networks(self, clip_input: torch.Tensor, vae_input: torch.Tensor) -> ReferenceStates:
        m, device, dtype = self.models, self.models.device, self.models.dtype
        context = m.image_encoder(clip_input.to(device, dtype)).image_embeds[:, None, :]
        latents = m.vae.encode(vae_input.to(device, dtype)).latent_dist.mean * VAE_SCALE
        self.bank.states = {}
        m.reference_unet(latents, torch.zeros(1, device=device), encoder_hidden_states=context, return_dict=False)
        states = {k: v.to(torch.float16) for k, v in self.bank.states.items()}
        self.bank.states = {}
        return ReferenceStates(context, states)


def _weights_fingerprint(models: RainModels) -> str:
    """Identifies the weight files cheaply (path, size, mtime) so a new download invalidates the cache."""
    parts = []
    for path in models.config.files.values():
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        parts += [f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
