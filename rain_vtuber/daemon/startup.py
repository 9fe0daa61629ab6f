"""Startup stage: load RAIN, fuse the active character, time the engine, open the face source.

Runs on its own thread while the outputs already show the character's picture, so OBS never sees a
dead source. The measured speed sets the output rate (unless `fps` is given): a few steps on the
neutral pose, 85% of what the engine sustains by default.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Sequence

import numpy as np

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.errors import RainError
from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig
from rain_vtuber.model.device import resolve_device
from rain_vtuber.weights import default_weights_dir

if TYPE_CHECKING:
    from rain_vtuber.engine import RainEngine

log = logging.getLogger(__name__)

WARMUP_STEPS = 5  # the first is discarded (allocation, caches); the rest are timed


def load_engine(config: DaemonConfig) -> RainEngine:
    """The engine the config asks for, on its device (a CPU-only machine is told what to expect)."""
    from rain_vtuber.engine import RainEngine  # torch: only when the stream starts

    device, dtype = resolve_device(config.device, config.dtype)
    if device == "cpu":
        log.warning(
            "no CUDA GPU here: RAIN runs on the CPU in %s, far below real time (a 2-core CPU took about 6 s "
            "per 4 frames even at model_size 128; at 512 expect well under 1 fps); for a live stream run the "
            "daemon on a PC with an NVIDIA GPU and OBS on this one (README: Two PCs)", dtype,
        )
    weights = config.weights or default_weights_dir()
    log.info("loading RAIN from %s on %s (%s)", weights, device, dtype)
    return RainEngine.load(
        weights, config=config.engine_config, device=device, dtype=dtype, decoder=config.decoder,
        backend=config.backend, keep_fusion_models=config.keep_fusion_models, latency=config.latency,
        health=config.stream_health, size=config.model_size,
    )


def sustainable_fps(step_seconds: Sequence[float], group_size: int, headroom: float, max_fps: float) -> float:
    """Median engine step time -> the output rate it can hold with some headroom (whole fps, >= 1)."""
    step = float(np.median(step_seconds))
    return float(max(1.0, min(max_fps, np.floor(group_size / step * headroom))))


def measure_fps(engine: RainEngine, pose: np.ndarray, config: DaemonConfig, stop: threading.Event) -> float | None:
    """Time a few engine steps on `pose` -> the fps the engine sustains with headroom (None if stopped first)."""
    poses = np.stack([pose] * engine.group_size)
    times = []
    for _ in range(WARMUP_STEPS):
        if stop.is_set():
            break
        start = time.perf_counter()
        engine.step(poses)
        times.append(time.perf_counter() - start)
    engine.reset()
    if len(times) < 2:
        return None
    fps = sustainable_fps(times[1:], engine.group_size, config.fps_headroom, config.max_fps)
    log.info("engine step %.0f ms for %d frames -> %g fps", 1000 * float(np.median(times[1:])), engine.group_size, fps)
    return fps


def oom_context(config: DaemonConfig, engine: RainEngine | None) -> tuple[str, str, int]:
    """(device, dtype, model size) for an out-of-memory message."""
    device, dtype = resolve_device(config.device, config.dtype)
    return device, dtype, engine.height if engine is not None else configured_size(config)


def configured_size(config: DaemonConfig) -> int:
    """The size RAIN will run at: model_size, else the release config's height."""
    if config.model_size is not None:
        return config.model_size
    weights = config.weights or default_weights_dir()
    path = config.engine_config or (weights / "config.yaml" if (weights / "config.yaml").is_file() else PACKAGED_CONFIG)
    try:
        return RainConfig.load(path, weights).height
    except RainError:
        return RainConfig.load(PACKAGED_CONFIG).height

