"""The one "auto" resolver for torch devices and dtypes, shared by every command that runs RAIN."""

from __future__ import annotations

from rain_vtuber.errors import RainError


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """device auto -> cuda when available, else cpu; dtype auto -> fp16 on CUDA, fp32 elsewhere.

    A CUDA device asked for by name on a torch build without CUDA is a RainError saying so.
    """
    import torch  # here: `ctl` and the OBS-facing commands never need torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RainError(f"device {device}: CUDA is not available in this torch build (install torch with CUDA, "
                        "or use device cpu)")
    if dtype == "auto":
        dtype = "fp16" if device.startswith("cuda") else "fp32"
    return device, dtype
