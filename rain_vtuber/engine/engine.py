"""RainEngine: the small public API over the stream (numpy pose images in, numpy frames out)."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rain_vtuber.accel import accelerate
from rain_vtuber.model.config import PACKAGED_CONFIG, PileLayout, RainConfig
from rain_vtuber.model.latency import latency_pile
from rain_vtuber.model.motion_module import shared_residual_scale
from rain_vtuber.model.release import RainModels, parse_dtype
from rain_vtuber.paths import cache_home
from rain_vtuber.stream.health import Action, HealthGuard, frame_statistics
from rain_vtuber.stream.noise import NoiseSource, SeededNoise
from rain_vtuber.stream.reference import ReferenceFuser, ReferenceStates
from rain_vtuber.stream.stream import Decoder, RainStream

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return cache_home() / "reference-states"


@dataclass(frozen=True)
class Step:
    """What one engine step returns.

    frames: (0 or G, H, W, 3) uint8 RGB; they show the poses pushed `pile_frames` poses ago.
    tag: what the caller passed with those poses (None while the pile fills, or when no tag was given).
    pile_frames: poses pushed from the step that took those poses to this one, both included (0 with no frames).
    """

    frames: np.ndarray
    tag: Any = None
    pile_frames: int = 0


class RainEngine:
    """Animate a character from a stream of 26-dot pose images.

        engine = RainEngine.load(weights_dir)
        engine.set_reference(engine.fuse_reference(image))   # image: HxWx3 uint8 RGB
        engine.push(pose)                                     # HxWx3 uint8 at engine.height x engine.width
        frame = engine.pull()                                 # HxWx3 uint8 RGB or None
        step = engine.step(poses, tag)                        # a group at once: step.frames, step.tag

    Every `group_size` pushed poses run one iteration; the first frame leaves after `frames`
    (groups x group_size) pushed poses. `set_latency` changes that depth at runtime.
    """

    def __init__(self, models: RainModels, *, decoder: Decoder = "taesdv", noise: NoiseSource | None = None,
                 cache_dir: Path | None = None, backend: str = "torch", latency: str = "standard",
                 keep_fusion_models: bool = False, health: bool = True):
        cfg = models.config
        self.models = models
        self.height, self.width = cfg.height, cfg.width
        self.device = models.device
        self.noise = noise or SeededNoise(cfg.seed, models.device, models.dtype)
        self.latency = latency
        self.pile: PileLayout = latency_pile(cfg, latency)
        self._eager = RainStream(models, self.noise, decoder, self.pile)
        self._backend_request = backend
        self._streams: dict[PileLayout, Any] = {}  # per pile: compiled steps are built once
        self._reference: ReferenceStates | None = None
        self.stream = self._stream_for(self.pile)
        self.backend: str = getattr(self.stream, "backend", "torch")  # what runs, after any fallback
        self.fuser = ReferenceFuser(models, cache_dir, keep_fusion_models)
        self._pending: list[np.ndarray] = []
        self._out: deque[np.ndarray] = deque()
        self._tags: deque[Any] = deque()  # one per group in the pile, oldest first: leaves with its frames
        self.health = HealthGuard() if health else None  # None: stream_health off, no statistic at all
        # one tensor read by every motion module (one fill damps them all), shared with any other
        # engine on these models: each step fills in this engine's own weight first
        self._motion_scale = shared_residual_scale(models.motion_unet) if health else None
        self._motion_weight = 1.0

    @property
    def group_size(self) -> int:
        """Poses per iteration (frames per group, `temporal_adaptive_step`)."""
        return self.pile.group_size

    @property
    def groups(self) -> int:
        """Noise-level groups in a full pile (`temporal_window_size`)."""
        return self.pile.groups

    def _stream_for(self, pile: PileLayout) -> Any:
        """The stream that runs `pile` on the requested backend (eager: the shared RainStream)."""
        if pile not in self._streams:
            # backend "torch" is the eager RainStream; the others run its fused step after the soft start
            self._streams[pile] = accelerate(self._eager, self._backend_request)
        return self._streams[pile]

    def set_latency(self, mode: str) -> None:
        """Switch the latency mode (pile depth) now, on the thread that steps the engine.

        Same networks and character; what is in flight is dropped and the new pile fills with a
        soft start. A compiled backend builds its step for a new pile the first time (cached).
        The mode already running is a no-op (a hotkey pressed twice does not restart the pile).
        """
        pile = latency_pile(self.models.config, mode)
        self.latency = mode
        if pile == self.pile:
            return
        self._eager.configure(pile)
        self.pile = pile
        self.stream = self._stream_for(pile)
        self.backend = getattr(self.stream, "backend", "torch")
        if self._reference is not None:
            self.stream.set_reference(self._reference)
        self.reset()

    @classmethod
    def load(cls, weights_dir: Path, config: Path | None = None, *, device: str = "cpu", dtype: str = "fp32",
             decoder: Decoder = "taesdv", seed: int | None = None, cache_dir: Path | None | bool = True,
             backend: str = "torch", latency: str = "standard", keep_fusion_models: bool = False,
             health: bool = True, size: int | None = None) -> "RainEngine":
        """Load the release from `weights_dir` (config: `weights_dir/config.yaml`, else the packaged one).

        cache_dir: where fused reference states are kept (True: the user cache, None/False: no cache).
        backend: "torch" (eager), "torch-compile", "tensorrt" or "auto" (rain_vtuber.accel.backends).
        latency: "standard" (the release pile) or "low" (rain_vtuber.model.latency).
        keep_fusion_models: keep CLIP, the VAE encoder and ReferenceNet on the device after fusing.
        health: run the stream health guard (rain_vtuber.stream.health).
        size: run at size x size (a multiple of 64) instead of the config's size; smaller needs less memory.
        """
        weights_dir = Path(weights_dir)
        if config is None:
            config = weights_dir / "config.yaml" if (weights_dir / "config.yaml").is_file() else PACKAGED_CONFIG
        cfg = RainConfig.load(Path(config), weights_dir)
        if seed is not None:
            cfg = replace(cfg, seed=seed)
        if size is not None:
            cfg = replace(cfg, height=size, width=size, reference_height=size, reference_width=size)
            cfg.validate(Path(config))
        log.info("loading RAIN %dx%d on %s (%s) from %s", cfg.width, cfg.height, device, dtype, weights_dir)
        models = RainModels.load(cfg, torch.device(device), parse_dtype(dtype))
        cache = default_cache_dir() if cache_dir is True else (cache_dir or None)
        return cls(models, decoder=decoder, cache_dir=cache, backend=backend, latency=latency,
                   keep_fusion_models=keep_fusion_models, health=health)

    def fuse_reference(self, image: np.ndarray) -> ReferenceStates:
        """Character image (HxWx3 uint8 RGB, any size) -> its reference states (disk-cached by content)."""
        return self.fuser.fuse(image)

    def set_reference(self, states: ReferenceStates) -> None:
        """Make `states` the active character; instant, the stream carries on."""
        switch = self._reference is not None
        self._reference = states.to(self.device)
        self.stream.set_reference(self._reference)
        if self.health is not None:  # a new baseline, once the old character has left the pile
            self._scale_motion(1.0)
            self.health.relearn(skip=self.pile.frames if switch else 0)

    def reset(self) -> None:
        """Drop everything in flight and start over with a soft start."""
        self.stream.reset()
        self._pending.clear()
        self._out.clear()
        self._tags.clear()
        if self.health is not None:
            self._scale_motion(1.0)
            self.health.relearn()

    def step(self, poses: np.ndarray, tag: Any = None) -> Step:
        """(G, H, W, 3) uint8 pose images -> the frames leaving the pile now, with the tag of their poses.

        The engine keeps each group's tag in its pile and hands it back with that group's frames,
        so a caller that times its poses needs no copy of the pile (a reset, a latency switch or a
        health restart drops the tags with the groups).
        """
        expected = (self.group_size, self.height, self.width, 3)
        if poses.shape != expected or poses.dtype != np.uint8:
            raise ValueError(f"pose images must be {expected} uint8, got {poses.shape} {poses.dtype}")
        pose = torch.from_numpy(poses).to(self.device).permute(0, 3, 1, 2).float() / 255
        self._eager.decode_began_ns = None
        if self._motion_scale is not None:
            self._motion_scale.fill_(self._motion_weight)
        self._tags.append(tag)
        frames = self.stream.iterate(pose)
        if frames is None:
            return Step(np.zeros((0, self.height, self.width, 3), np.uint8))
        out = (frames * 255).round().to(torch.uint8).cpu().numpy()
        pile_frames = len(self._tags) * self.group_size
        step = Step(out, self._tags.popleft(), pile_frames)
        if self.health is not None:
            self._guard(frames)
        return step

    def health_status(self) -> dict[str, object]:
        """The guard's state and counters for /rain/status ({"state": "off"} when it is off)."""
        return self.health.status() if self.health is not None else {"state": "off"}

    def _guard(self, frames: torch.Tensor) -> None:
        """Feed this step's frame statistics (read back once, after the frames) to the guard and act."""
        action = self.health.observe(frame_statistics(frames).cpu().numpy())
        if action is Action.DAMP:
            self._scale_motion(self.health.settings.damp_scale)
            self.stream.refresh(self.health.settings.refresh_groups)
        elif action is Action.RESTART:
            self.stream.reset()  # what the caller queued stays: only the pile starts over
            self._tags.clear()
        elif action is Action.RESTORE:
            self._scale_motion(1.0)

    def _scale_motion(self, scale: float) -> None:
        """Weight of every motion module's temporal residual (in place: compiled steps see it)."""
        self._motion_weight = scale
        self._motion_scale.fill_(scale)

    @property
    def decode_began_ns(self) -> int | None:
        """When the last step's decoder began (time.monotonic_ns); None if it decoded nothing or decoded
        inside a fused step (compiled backends), where decoding is not timed apart from the UNet."""
        return self._eager.decode_began_ns

    def push(self, pose: np.ndarray) -> None:
        """Queue one pose image; every `group_size` of them run an iteration."""
        self._pending.append(pose)
        if len(self._pending) == self.group_size:
            batch, self._pending = np.stack(self._pending), []
            self._out.extend(self.step(batch).frames)

    def pull(self) -> np.ndarray | None:
        """The next output frame, or None when none is ready."""
        return self._out.popleft() if self._out else None
