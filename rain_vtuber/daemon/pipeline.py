"""The stream as stages: startup, sampler, engine worker, output stage, each on its own thread.

  rain-output   the output stage (outputs/stage.py): the master clock. From the first moment it
                offers one frame per period to every output (the character's picture until the
                engine's first frame, repeats while nothing new is ready), so OBS never sees a dead
                source; each output runs on its own thread behind a newest-frame-wins slot.
  rain-start    the startup stage (startup.py): loads RAIN, fuses the active character, times the
                engine (the output rate), opens the face source, then starts the two stream stages
                (a failure here stops the daemon).
  rain-sampler  the sampler (sampler.py): one face sample per output period -> pose image; groups of
                them go to the engine through a one-item slot (drop, don't queue).
  rain-engine   the engine worker (engine_worker.py): steps the engine and delivers the finished
                frames, stamped stage by stage, to the output stage.

The daemon calls the command methods below from its control thread. Every thread watches one stop
Event and is joined with a time limit.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from rain_vtuber.audio import LipSync, open_lipsync
from rain_vtuber.daemon.characters import CharacterEntry, CharacterRegistry
from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.engine_worker import EngineWorker
from rain_vtuber.daemon.oom import is_oom, oom_message
from rain_vtuber.daemon.sampler import Sampler
from rain_vtuber.daemon.startup import load_engine, measure_fps, oom_context
from rain_vtuber.errors import RainError
from rain_vtuber.face import FaceDriver, Mouth
from rain_vtuber.landmarks import PoseRenderer
from rain_vtuber.model.latency import check_mode
from rain_vtuber.outputs.base import FrameRate
from rain_vtuber.outputs.registry import open_output
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.stage import OutputStage
from rain_vtuber.sources import open_source
from rain_vtuber.utils.stats import p50_p95

log = logging.getLogger(__name__)

PROVISIONAL_FPS = 15.0  # output rate while the engine speed is still unknown
JOIN_BUDGET_S = 1.0  # all stream threads together; shutdown must finish within 2 s
AUDIO_DELAY_WINDOW = 300  # poses whose sound delay is reported (10 s at 30 fps)


def open_stage(config: DaemonConfig) -> OutputStage:
    """The output stage with a runner per configured output (not started)."""
    size, rate = config.output_size, FrameRate.nearest(config.fps or PROVISIONAL_FPS)
    runners = {settings.label: OutputRunner(open_output(settings, size, size, rate), settings.label)
               for settings in config.output_settings()}
    return OutputStage(runners, size, rate.fps, config.key_tolerance)


class Pipeline:
    """Owns the stages; the daemon calls its methods from the control thread."""

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
        self.sampler: Sampler | None = None
        self.worker: EngineWorker | None = None
        # here from the start: an expression hotkey pressed while loading is on when the stream comes up
        self.driver = FaceDriver(config.idle, audio_mode=config.audio.mode, expressions=registry.current.expressions,
                                 place=self._place_neutral)
        self.lipsync: LipSync | None = None
        self._audio_error: str | None = None
        self._audio_delays: collections.deque[int] = collections.deque(maxlen=AUDIO_DELAY_WINDOW)
        self.stage = open_stage(config)
        self._threads: list[threading.Thread] = []
        self._apply_look(registry.current)

    @property
    def fps(self) -> float:
        return self.stage.rate.fps

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the outputs (showing the character's picture now) and bring the stream up in the background."""
        self.stage.start(self.stop)
        self._spawn(self._startup, "rain-start")

    def wait_streaming(self, timeout: float, poll_s: float = 0.25) -> None:
        """Block until the engine runs and a frame's latency is stamped (after loading, fusing, warming
        up and filling the pile); RainError if the pipeline fails or `timeout` s pass first."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while self.state != "running" or self.stage.latency.p50() is None:
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
        """Stop every stage, release the face source and close every output."""
        self.state = "stopping"
        self.stop.set()
        deadline = time.monotonic() + JOIN_BUDGET_S
        self.stage.join(timeout=JOIN_BUDGET_S)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("thread %s did not stop in time; leaving it behind", thread.name)
        if self.source is not None:
            self.source.stop()
        if self.lipsync is not None:
            self.lipsync.stop(timeout=0.3)
        self.registry.close()
        self.stage.close(timeout=max(0.2, deadline - time.monotonic()))

    def _startup(self) -> None:
        try:
            self._bring_up()
        except Exception as err:  # reported by the daemon, which then exits non-zero
            if is_oom(err):
                err = RainError(oom_message(f"starting up ({self.state})", *oom_context(self.config, self.engine)))
            if not isinstance(err, RainError):
                log.exception("startup failed")
            self.error = str(err)
            self.state = "error"
            self.stop.set()

    def _bring_up(self) -> None:
        cfg = self.config
        if self.engine is None:
            self.engine = load_engine(cfg)
        if self.stop.is_set():
            return
        engine = self.engine
        self.registry.start_fusing(engine, others=False)
        self.state = "fusing"
        entry = self.registry.wait_ready(self.registry.active, self.stop)
        engine.set_reference(entry.states)
        self.sampler = Sampler(PoseRenderer(entry.calibration, height=engine.height, width=engine.width),
                               lambda: engine.group_size, self.driver, self._mouth_at)
        self.state = "warming"
        fps = cfg.fps or measure_fps(engine, self.sampler.render(None), cfg, self.stop) or self.fps
        self.stage.set_rate(fps)
        self.registry.fuse_others()
        self._open_audio(entry)
        self.source = open_source(cfg.source, cfg.weights)
        self.source.start()
        advice = oom_message("stepping", *oom_context(cfg, engine))
        self.worker = EngineWorker(engine, self.sampler.groups, self.stage, advice)
        self.state = "running"
        self._spawn(lambda: self.worker.run(self.stop), "rain-engine")
        self._spawn(lambda: self.sampler.run(self.source, self.fps, self.stop), "rain-sampler")
        outputs = ", ".join(f"{name} ({status.get('name') or status.get('url') or status['kind']})"
                            for name, status in self.stage.status().items())
        log.info("streaming %s at %g fps to %s", entry.name, self.fps, outputs or "no outputs")

    # ---- commands (called from the control thread) ------------------------------------------------

    def set_character(self, entry: CharacterEntry) -> None:
        """Swap reference states, calibration, key colour and picture; the stream keeps going."""
        if self.worker is not None:
            self.worker.set_reference(entry.states)
        self.set_calibration(entry)
        self._apply_look(entry, show=self.state != "running")

    def set_calibration(self, entry: CharacterEntry) -> None:
        """The character's calibration, expressions and voice levels (a switch or a reload)."""
        self.driver.expressions.set_expressions(entry.expressions)
        if self.lipsync is not None:
            self.lipsync.set_calibration(entry.calibration.audio)
        if self.sampler is not None:
            self.sampler.set_calibration(entry.calibration)

    def set_expression(self, name: str, action: str) -> bool:
        """Switch a named expression on, off or over (toggle); True when it is on now."""
        player = self.driver.expressions
        if action == "toggle":
            return player.toggle(name)
        if action not in ("on", "off"):
            raise RainError(f"expression action must be on, off or toggle, got {action!r}")
        (player.on if action == "on" else player.off)(name)
        return action == "on"

    def _open_audio(self, entry: CharacterEntry) -> None:
        """Start lip sync when `audio.input` is set; a microphone that cannot be found is reported, not fatal."""
        try:
            self.lipsync = open_lipsync(self.config.audio, entry.calibration.audio)
        except RainError as err:
            self._audio_error = str(err)
            log.error("microphone lip sync is off: %s", err)

    def _mouth_at(self, captured: int) -> Mouth | None:
        """The sound's mouth for a face captured at `captured`, never newer than the sound analysed so far."""
        if self.lipsync is None:
            return None
        now = time.monotonic_ns()
        heard = self.lipsync.heard_at(captured, now)
        self._audio_delays.append(now - heard)
        return self.lipsync.mouth_at(heard)

    def audio_status(self) -> dict[str, Any]:
        """The input's own status, plus how far behind its sound the poses are drawn (p50/p95 ms)."""
        if self.lipsync is None:
            return {"state": "error" if self._audio_error else "off", "error": self._audio_error}
        delays_ms = [d / 1e6 for d in list(self._audio_delays)]
        return {**self.lipsync.status(), "mode": self.config.audio.mode, "sound_to_pose_ms": p50_p95(delays_ms)}

    def _place_neutral(self, points: Any) -> Any:
        """The driver's placement of idle life: on the character's face, as the sampler draws it now."""
        return self.sampler.place_neutral(points) if self.sampler is not None else points

    def pause(self) -> None:
        self._require_stream()
        self.state = "paused"
        self.sampler.pause()

    def resume(self) -> None:
        """Continue after pause with a soft start (what is in flight is stale)."""
        self._require_stream()
        if self.state == "paused":
            self.worker.reset()
            self.sampler.paused = False
            self.state = "running"

    def set_latency(self, mode: str) -> None:
        """Queue a latency mode switch for the engine thread (standard | low)."""
        check_mode(mode)
        self._require_stream()
        self.worker.set_latency(mode)

    def recenter(self) -> Any:
        """Take the face tracked now as neutral (position and, with framing.auto_fit, size); returns the
        calibration after it."""
        self._require_stream()
        return self.sampler.recenter()

    def _require_stream(self) -> None:
        if self.state not in ("running", "paused"):
            raise RainError(f"the stream is not up yet ({self.state}); try again in a moment")

    def _apply_look(self, entry: CharacterEntry, show: bool = True) -> None:
        """The character's key colour for every output, and its picture until the engine's next frame."""
        mode = self.config.background_key
        self.stage.set_key(entry.background if mode == "reference" else self.config.key_colour())
        if show:
            self.stage.show_picture(entry.image)

    # ---- status ------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        engine, worker, stage = self.engine, self.worker, self.stage
        group = engine.group_size if engine is not None else 4
        outputs = stage.status()
        dropped_groups = self.sampler.groups.dropped if self.sampler is not None else 0
        return {
            "fps_target": self.fps,
            "output_fps": round(stage.output_rate.rate(), 2),
            "engine_fps": round(worker.engine_rate.rate(), 2) if worker is not None else 0.0,
            "latency_ms_p50": stage.latency.p50(),  # total, face capture -> outputs (kept for older clients)
            "latency": stage.latency.summary(),
            "latency_mode": engine.latency if engine is not None else self.config.latency,
            "pile_frames": engine.pile.frames if engine is not None else None,
            "dropped_frames": dropped_groups * group + stage.frames.dropped,
            "clock_resets": stage.clock_resets,
            "out_of_memory": worker.oom_count if worker is not None else 0,
            "stream_health": engine.health_status() if engine is not None else {"state": "not started"},
            "outputs": outputs,
            "ndi": next((status for status in outputs.values() if status["kind"] == "ndi"), None),
            **self.face_status(),
            "audio": self.audio_status(),
        }

    def face_status(self) -> dict[str, Any]:
        """What drives the face now (tracking | idle | neutral) and the expressions, as /rain/status reports them."""
        driving = self.driver.status()
        driver = "tracking" if driving["tracking"] else "idle" if driving["idle"] else "neutral"
        return {
            "face_driver": driver if self.sampler is not None else "not started",
            "face": {k: driving[k] for k in ("tracking", "idle", "audio", "auto_blink")},
            "expressions": {"available": self.driver.expressions.available(), "active": driving["expressions"]},
        }

    def source_status(self) -> dict[str, Any]:
        fit = self.sampler.fit_state() if self.sampler is not None else self._configured_fit()
        if self.source is None:
            return {"name": self.config.source.kind, "state": "not started", "error": None, "auto_fit": fit}
        state = self.source.state
        return {"name": self.source.name, "state": getattr(state, "value", str(state)), "error": self.source.error,
                "auto_fit": fit}

    def _configured_fit(self) -> str:
        return "waiting" if self.registry.current.calibration.framing.auto_fit else "off"
