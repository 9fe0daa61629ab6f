"""Out of memory while loading or stepping: recognise it, say in one line what to change, free what
can be freed. CUDA raises torch.OutOfMemoryError; the CPU allocator a RuntimeError saying so."""

from __future__ import annotations

import gc
import sys

_CPU_SIGNS = ("can't allocate memory", "out of memory", "not enough memory")


def is_oom(err: BaseException) -> bool:
    torch = sys.modules.get("torch")  # not imported: nothing can have raised its error (ctl stays torch-free)
    if torch is not None and isinstance(err, torch.OutOfMemoryError):
        return True
    if isinstance(err, MemoryError):
        return True
    return isinstance(err, RuntimeError) and any(sign in str(err).lower() for sign in _CPU_SIGNS)


def oom_message(when: str, device: str, dtype: str, model_size: int) -> str:
    """One line: what ran out and what the user can change (model_size: the size RAIN runs at)."""
    gpu = device.startswith("cuda")
    smaller = max(64, model_size - 128)
    advice = [f"model_size: {smaller} (RAIN runs at {model_size} now)", *(["dtype: fp16"] if gpu and dtype == "fp32" else [])]
    advice.append("closing other GPU apps" if gpu else "closing other programs")
    return f"out of {'GPU ' if gpu else ''}memory while {when} on {device}: try {', '.join(advice)}"


def free_memory() -> None:
    """Drop what Python and the CUDA caching allocator hold but no longer use."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
