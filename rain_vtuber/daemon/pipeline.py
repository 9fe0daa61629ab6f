"""Wiring: face source -> pose renderer -> engine -> pacer -> NDI, one thread per stage.

Threads (all watch one stop Event and are joined with timeouts):
  rain-ndi      sends one frame per output period from the start: new frames when there are any,
                otherwise the last frame again (or the character's reference image before the first),
                so OBS never sees a dead source while loading, warming up, paused or without a face.
  rain-start    loads the engine, fuses the active character, measures the sustainable fps, opens the
                source, then starts the two stream threads (a failure here stops the daemon).
  rain-sampler  samples the face once per output period, renders a pose, hands groups of 4 to the engine
                through a one-slot mailbox (an unread group is replaced: drop, don't queue).
  rain-engine   engine.step(group) -> 4 frames into a FrameQueue read by rain-ndi; it holds one group
                plus QUEUE_SLACK frames and drops the oldest beyond that, so a backlog cannot persist.
Every pose carries the capture time of its face sample; each stage adds its time (FrameStamps), the NDI
frame carries the capture time as its timecode, and `latency` keeps p50/p95 per stage for /rain/status.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from rain_vtuber.daemon.characters import CharacterEntry, CharacterRegistry
from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.oom import free_memory, is_oom, oom_message
from rain_vtuber.daemon.pacing import FrameQueue, FrameStamps, LatencyMeter, RateMeter, Slot, Ticker, sustainable_fps
from rain_vtuber.errors import RainError
from rain_vtuber.model.latency import check_mode
from rain_vtuber.outputs.ndi import NdiSender
from rain_vtuber.utils.ratelimit import RateLimitedLog
from rain_vtuber.weights import default_weights_dir

log = logging.getLogger(__name__)

warn = RateLimitedLog(log)

WARMUP_STEPS = 5  # the first is discarded (allocation, caches); the rest are timed
QUEUE_SLACK = 2  # finished frames allowed beyond one group: absorbs jitter, caps the added latency
PROVISIONAL_FPS = 15.0  # output rate while the engine speed is still unknown
JOIN_BUDGET_S = 1.0  # all stream threads together; shutdown must finish within 2 s
OOM_BACKOFF_S = (0.5, 8.0)  # first and longest wait before stepping again after running out of memory


def _thread_error(what: str, err: Exception) -> None:
    """A stream thread carries on after an error: warn (rate-limited), traceback at debug level."""
    warn.warning(what, "%s failed: %s: %s", what, type(err).__name__, err)
    log.debug("%s failed", what, exc_info=err)


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """auto -> cuda when available else cpu; dtype auto -> fp16 on CUDA, fp32 elsewhere."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "fp16" if device.startswith("cuda") else "fp32"
    return device, dtype


class Pipeline:
    """Owns the stream threads and the NDI sender; the daemon calls its methods from the control thread."""

    def __init__(self, config: DaemonConfig, registry: CharacterRegistry, stop: threading.Event,
                 engine: Any = None) -> None:
        """engine: a RainEngine built already (the device check's random release weights); None loads
        `config.weights` at start."""
        self.config = config
        self.registry = registry
        self.stop = stop
        self.state = "loading"
        self.error: str | None = None
        self.engine: Any = engine
        self.source: Any = None
        size = config.resolution
        self.sender = NdiSender(config.ndi_name, size, size, config.fps or PROVISIONAL_FPS, config.ndi_format,
                                config.key_tolerance)
        self.fps = self.sender.fps  # the NDI rate nearest the wish (29.97 -> 30000/1001)
        self.frames = FrameQueue(max_frames=4 + QUEUE_SLACK)  # resized to the engine's group below
        self.groups = Slot()
        self.latency = LatencyMeter()
        self.output_rate = RateMeter()
        self.engine_rate = RateMeter()
        self._out_ticker = Ticker(self.fps)
        self._renderer: Any = None
        self._render_lock = threading.Lock()
        self._references = Slot()  # reference states waiting for the engine thread to install
        self._latency_mode = Slot()  # a latency mode waiting for the engine thread to switch to
        self._reset_engine = False
        self._show_idle = True
        self._threads: list[threading.Thread] = []
        self.oom_count = 0
        self._oom_streak = 0  # consecutive failed steps: sets the backoff
        self._idle = registry.current.image
        self._apply_key(registry.current)

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending the idle image now and bring the stream up in the background."""
        self._spawn(self._output_loop, "rain-ndi")
        self._spawn(self._startup, "rain-start")

    def wait_streaming(self, timeout: float, poll_s: float = 0.25) -> None:
        """Block until the engine runs and a frame's latency is stamped (after loading, fusing, warming
        up and filling the pile); RainError if the pipeline fails or `timeout` s pass first."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while self.state != "running" or self.latency.p50() is None:
            if self.error:
                raise RainError(f"the daemon pipeline failed: {self.error}")
            if time.monotonic() > deadline:
                raise RainError(f"the daemon was still {self.state!r} after {timeout:.0f} s")
            time.sleep(poll_s)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Stop every thread, release the camera/port and destroy the NDI source."""
        self.state = "stopping"
        self.stop.set()
        deadline = time.monotonic() + JOIN_BUDGET_S
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("thread %s did not stop in time; leaving it behind", thread.name)
        if self.source is not None:
            self.source.stop()
        self.registry.close()
        self.sender.close()

    def _startup(self) -> None:
        try:
            self._bring_up()
        except Exception as err:  # reported by the daemon, which then exits non-zero
            if is_oom(err):
                err = RainError(self._oom_message(f"starting up ({self.state})"))
            if not isinstance(err, RainError):
                log.exception("startup failed")
            self.error = str(err)
            self.state = "error"
            self.stop.set()

    def _bring_up(self) -> None:
        from rain_vtuber.engine import RainEngine
        from rain_vtuber.landmarks import PoseRenderer
        from rain_vtuber.sources import open_source

        cfg = self.config
        device, dtype = resolve_device(cfg.device, cfg.dtype)
        weights = cfg.weights or default_weights_dir()
        if self.engine is None:
            log.info("loading RAIN from %s on %s (%s)", weights, device, dtype)
            self.engine = RainEngine.load(
                weights, config=cfg.engine_config, device=device, dtype=dtype, decoder=cfg.decoder, backend=cfg.backend,
                keep_fusion_models=cfg.keep_fusion_models,
                latency=cfg.latency, health=cfg.stream_health,
            )
        if self.stop.is_set():
            return
        self.frames.max_frames = self.engine.group_size + QUEUE_SLACK
        self.registry.start_fusing(self.engine, others=False)
        self.state = "fusing"
        entry = self.registry.wait_ready(self.registry.active, self.stop)
        self.engine.set_reference(entry.states)
        with self._render_lock:
            self._renderer = PoseRenderer(entry.calibration, height=self.engine.height, width=self.engine.width)
        self.state = "warming"
        self._set_fps(cfg.fps or self._measure_fps())
        self.registry.fuse_others()
        self.source = open_source(cfg.source, weights)
        self.source.start()
        self.state = "running"
        self._spawn(self._engine_loop, "rain-engine")
        self._spawn(self._sample_loop, "rain-sampler")
        log.info("streaming %s at %g fps as NDI '%s'", entry.name, self.fps, self.sender.source_name)

    def _measure_fps(self) -> float:
        """Time a few engine steps on the neutral pose -> the fps it sustains (with headroom)."""
        group = self.engine.group_size
        poses = np.stack([self._render(None)] * group)
        times = []
        for _ in range(WARMUP_STEPS):
            if self.stop.is_set():
                break
            start = time.perf_counter()
            self.engine.step(poses)
            times.append(time.perf_counter() - start)
        self.engine.reset()
        if len(times) < 2:
            return self.fps
        fps = sustainable_fps(times[1:], group, self.config.fps_headroom, self.config.max_fps)
        log.info("engine step %.0f ms for %d frames -> %g fps", 1000 * float(np.median(times[1:])), group, fps)
        return fps

    def _set_fps(self, fps: float) -> None:
        self.fps = self.sender.set_fps(fps)
        self._out_ticker.set_fps(self.fps)

    # ---- stream threads ---------------------------------------------------------------------------

    def _render(self, face: Any) -> np.ndarray:
        with self._render_lock:
            return self._renderer.render(face)

    def _sample_loop(self) -> None:
        ticker = Ticker(self.fps)
        poses: list[np.ndarray] = []
        stamps: list[tuple[int, int]] = []  # (face captured, pose rendered) per pose
        while ticker.wait(self.stop):
            if self.state == "paused":
                poses.clear()
                stamps.clear()
                continue
            try:
                face = self.source.latest()
                sampled = time.monotonic_ns()
                poses.append(self._render(face))
                stamps.append((sampled if face is None else min(face.timestamp_ns, sampled), time.monotonic_ns()))
            except Exception as err:
                _thread_error("pose sampling", err)
                continue
            group = self.engine.group_size  # read each time: a latency switch changes it
            if len(poses) >= group:
                self.groups.put((np.stack(poses[-group:]), stamps[-group:]))
                poses, stamps = [], []

    def _engine_loop(self) -> None:
        # The engine returns frames for poses pushed some iterations earlier (its pile depth), so each
        # group's stamps and step start wait here in order until their frames come out.
        in_flight: collections.deque[tuple[list[tuple[int, int]], int]] = collections.deque()
        while not self.stop.is_set():
            item = self.groups.get(timeout=0.1)
            try:
                if (states := self._references.get(timeout=0)) is not None:
                    self.engine.set_reference(states)
                if (mode := self._latency_mode.get(timeout=0)) is not None and self._switch_latency(mode):
                    in_flight.clear()
                if self._reset_engine:
                    self._reset_engine = False
                    self.engine.reset()
                    in_flight.clear()
                if item is None:
                    continue
                poses, stamps = item
                if len(poses) != self.engine.group_size:
                    continue  # sampled for the pile before a latency switch
                began = time.monotonic_ns()
                restarts = self._guard_restarts()
                frames = self.engine.step(poses)
                done = time.monotonic_ns()
            except Exception as err:
                if is_oom(err):
                    self._recover_from_oom(in_flight)
                else:
                    _thread_error("engine step", err)
                continue
            self._oom_streak = 0
            in_flight.append((stamps, began))
            if len(frames):
                pile_frames = len(poses) * len(in_flight)
                group, grouped = in_flight.popleft()
                decoding = self.engine.decode_began_ns
                self.frames.put_many(
                    list(frames),
                    [FrameStamps(c, p, grouped, pile_frames, began, decoding, done) for c, p in group],
                )
                for _ in range(len(frames)):
                    self.engine_rate.tick()
            if self._guard_restarts() != restarts:  # the health guard dropped the pile: its groups never come out
                in_flight.clear()

    def _guard_restarts(self) -> int:
        return self.engine.health.soft_restarts if self.engine.health is not None else 0

    def _switch_latency(self, mode: str) -> bool:
        """On the engine thread: new pile depth with a soft start (NDI resends the last frame
        meanwhile); False when `mode` is already running (nothing restarts)."""
        pile = self.engine.pile
        self.engine.set_latency(mode)
        if self.engine.pile == pile:
            return False
        self.frames.max_frames = self.engine.group_size + QUEUE_SLACK
        self.latency = LatencyMeter()  # p50 of the new mode only
        log.info("latency -> %s (%d frames deep)", mode, self.engine.pile.frames)
        return True

    def _oom_message(self, when: str) -> str:
        device, dtype = resolve_device(self.config.device, self.config.dtype)
        return oom_message(when, device, dtype, self.config.resolution)

    def _recover_from_oom(self, in_flight: collections.deque) -> None:
        """Out of memory mid-stream: NDI keeps resending the last frame while the pile is dropped, memory
        freed and the step retried after a growing pause (a soft start follows)."""
        self.oom_count += 1
        self._oom_streak += 1
        wait = min(OOM_BACKOFF_S[1], OOM_BACKOFF_S[0] * 2 ** min(self._oom_streak - 1, 8))
        warn.warning("oom", "%s; retrying in %.1f s (%d so far)", self._oom_message("stepping"), wait, self.oom_count)
        self.groups.clear()
        in_flight.clear()
        self.engine.reset()
        free_memory()
        self.stop.wait(wait)

    def _output_loop(self) -> None:
        while self._out_ticker.wait(self.stop):
            try:
                item = self.frames.pop()
                if item is not None:
                    sending = time.monotonic_ns()
                    self.sender.send(item.frame, item.stamps.captured)
                    self.latency.add(item.stamps, sending, time.monotonic_ns())
                    self._show_idle = False
                elif self._show_idle or not self.sender.resend():
                    self.sender.send(self._idle)
                self.output_rate.tick()
            except Exception as err:
                _thread_error("NDI send", err)

    # ---- commands (called from the control thread) ------------------------------------------------

    def set_character(self, entry: CharacterEntry) -> None:
        """Swap reference states, calibration, key colour and idle image; the stream keeps going."""
        self._references.put(entry.states)
        self.set_calibration(entry)
        self._idle = entry.image
        self._apply_key(entry)
        if self.state != "running":
            self._show_idle = True

    def set_calibration(self, entry: CharacterEntry) -> None:
        with self._render_lock:
            if self._renderer is not None:
                self._renderer.set_calibration(entry.calibration)

    def pause(self) -> None:
        self._require_stream()
        self.state = "paused"
        self.groups.clear()

    def resume(self) -> None:
        """Continue after pause with a soft start (what is in flight is stale)."""
        self._require_stream()
        if self.state == "paused":
            self._reset_engine = True
            self.state = "running"

    def set_latency(self, mode: str) -> None:
        """Queue a latency mode switch for the engine thread (standard | low)."""
        check_mode(mode)
        self._require_stream()
        self._latency_mode.put(mode)

    def recenter(self) -> Any:
        """Take the face tracked now as neutral: position and, with framing.auto_fit, size (auto-fit again).

        Returns the renderer's calibration after it.
        """
        self._require_stream()
        face = self.source.latest()
        with self._render_lock:
            if face is None or not self._renderer.recenter(face):
                raise RainError("no face tracked right now: look at the camera (or start the tracker) and try again")
            return self._renderer.calibration

    def _require_stream(self) -> None:
        if self.state not in ("running", "paused"):
            raise RainError(f"the stream is not up yet ({self.state}); try again in a moment")

    def _apply_key(self, entry: CharacterEntry) -> None:
        mode = self.config.background_key
        self.sender.set_key(entry.background if mode == "reference" else self.config.key_colour())

    def stats(self) -> dict[str, Any]:
        group = self.engine.group_size if self.engine is not None else 4
        latency = self.latency.p50()
        return {
            "fps_target": self.fps,
            "output_fps": round(self.output_rate.rate(), 2),
            "engine_fps": round(self.engine_rate.rate(), 2),
            "latency_ms_p50": latency,  # total, face capture -> NDI sent (kept for older clients)
            "latency": self.latency.summary(),
            "latency_mode": self.engine.latency if self.engine is not None else self.config.latency,
            "pile_frames": self.engine.pile.frames if self.engine is not None else None,
            "dropped_frames": self.groups.dropped * group + self.frames.dropped,
            "clock_resets": self._out_ticker.resets,
            "out_of_memory": self.oom_count,
            "stream_health": self.engine.health_status() if self.engine is not None else {"state": "not started"},
            "ndi": {
                "name": self.sender.source_name,
                "width": self.sender.width,
                "height": self.sender.height,
                "format": self.sender.pixel_format,
                "connections": self.sender.connections(),
                "frames_sent": self.sender.frames_sent,
            },
        }

    def source_status(self) -> dict[str, Any]:
        if self.source is None:
            name = self.config.source.kind
            return {"name": name, "state": "not started", "error": None, "auto_fit": self._fit_state()}
        state = self.source.state
        return {
            "name": self.source.name,
            "state": getattr(state, "value", str(state)),
            "error": self.source.error,
            "auto_fit": self._fit_state(),
        }

    def _fit_state(self) -> str:
        """off | waiting (for a steady second of tracking) | fitted."""
        with self._render_lock:
            renderer = self._renderer
            calib = self.registry.current.calibration if renderer is None else renderer.calibration
            if not calib.framing.auto_fit:
                return "off"
            return "fitted" if renderer is not None and renderer.fit is not None else "waiting"
