"""Where the fusion-only networks live: on the compute device only while a character is fused.

CLIP, the VAE encoder and ReferenceNet run once per character image; the stream never uses them.
Keeping them on the GPU costs about 2.4 GB at fp16 (ReferenceNet alone 1.7 GB), so after fusing
they go back to host memory and return for the next character (`keep=True`, the daemon's
`keep_fusion_models`, keeps them resident: faster character fusion, more GPU memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from rain_vtuber.model.release import RainModels


def fusion_modules(models: RainModels) -> dict[str, nn.Module]:
    """The networks (or parts) only reference fusion uses, by name; the VAE decoder stays with the stream."""
    modules = {"image_encoder": models.image_encoder, "reference_unet": models.reference_unet}
    if models.vae is not None:
        modules["vae.encoder"] = models.vae.encoder
        if getattr(models.vae, "quant_conv", None) is not None:
            modules["vae.quant_conv"] = models.vae.quant_conv
    return {name: module for name, module in modules.items() if module is not None}


class FusionPlacement:
    """Parks the fusion networks on `host` between fusions unless `keep`; `on_device()` brings them back."""

    def __init__(self, models: RainModels, keep: bool = False, host: torch.device | str = "cpu"):
        self.models, self.keep, self.host = models, keep, torch.device(host)
        self.device = models.device
        if not keep:
            self._move(self.host)

    def _move(self, device: torch.device) -> None:
        for module in fusion_modules(self.models).values():
            module.to(device)

    @contextmanager
    def on_device(self) -> Iterator[None]:
        """The fusion networks on the compute device for the duration (parked again afterwards)."""
        if self.keep:
            yield
            return
        self._move(self.device)
        try:
            yield
        finally:
            self._move(self.host)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()  # give the parked weights' blocks back for the stream
