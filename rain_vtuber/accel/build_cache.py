"""On-disk cache for expensive build artefacts (TensorRT engines): content keys and locked builds.

A key is a hash of everything the artefact depends on, so any change (GPU, library version,
shapes, dtype, weights) names a different file and the stale one is simply never read again.
Builds take an exclusive file lock (`filelock`: flock on POSIX, msvcrt on Windows; released by
the OS if the builder dies), so two processes starting at once build once: the second waits and
then finds the finished file. Files appear atomically (write `.partial`, then rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from torch import nn

from rain_vtuber.errors import RainError

log = logging.getLogger(__name__)

BUILD_WAIT_S = 3600.0  # a full-size TensorRT build takes minutes; waiting on one longer means it hung


def cache_key(parts: Mapping[str, object]) -> str:
    """Stable hex key of JSON-able `parts` (order of keys does not matter)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def weights_digest(module: nn.Module) -> str:
    """Hash of every tensor in `module`'s state (names, dtypes, shapes and bytes).

    Exact rather than file based: the weights may be random (benchmarks) or converted in memory.
    About a second per GB; tensors are hashed one at a time, so no second copy of the model exists.
    """
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        h.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        data = tensor.detach().contiguous().cpu()
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()


def build_once(path: Path, build: Callable[[Path], None], wait_s: float = BUILD_WAIT_S) -> Path:
    """`path`, built by `build(partial_path)` under an exclusive lock unless it already exists.

    Concurrent callers for the same path wait for the one building and then reuse its file.
    """
    path = Path(path)
    if path.is_file():
        log.info("using cached %s", path.name)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        with lock.acquire(timeout=wait_s):
            if path.is_file():  # another process finished it while we waited
                log.info("using %s, built by another process", path.name)
                return path
            partial = path.with_name(path.name + ".partial")
            partial.unlink(missing_ok=True)
            build(partial)
            partial.replace(path)
    except Timeout as err:
        raise RainError(
            f"waited {wait_s:.0f} s for another process building {path.name}; "
            f"stop that process (or delete {lock.lock_file} if none is running) and retry"
        ) from err
    return path
