"""One calibration being edited: the calibration, the live face and sound, recordings, images for the page.

The HTTP server calls these methods from its request threads; the guided recording runs on its
own thread. One lock guards the editable state; each renderer has its own lock because a
PoseRenderer is not thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import ValidationError

from rain_vtuber.audio import LipSync
from rain_vtuber.calibrate import params
from rain_vtuber.calibrate.audio_steps import AUDIO_STEPS, NO_AUDIO, PROMPTS, measure_audio
from rain_vtuber.calibrate.character import CharacterFiles, load_neutral, save_neutral
from rain_vtuber.calibrate.preview import NoPreview, RainPreview
from rain_vtuber.calibrate.recording import STEPS, expression_ranges, measure_step
from rain_vtuber.calibrate.solver import FaceFrame, measure
from rain_vtuber.errors import RainError
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer, save_calibration
from rain_vtuber.landmarks.autofit import FaceFit, SteadyFit
from rain_vtuber.landmarks.render import face_input
from rain_vtuber.sources import FaceSource

log = logging.getLogger(__name__)

FACE_PROMPT = ("hold", "hold it")
"""What the countdown overlay says / the page asks while a face step records."""
OVERLAY_SIDE = 640
"""Longest side of the overlay sent to the page (the dots are drawn at this size)."""
_GROW = np.ones((3, 3), np.uint8)


@dataclass
class Recording:
    """Progress of the guided recording shown on the page."""

    step: str = ""
    phase: str = "idle"  # idle | countdown | recording | done | failed
    ends_at: float = 0.0
    message: str = ""
    prompt: str = "hold"  # what the countdown overlay says while recording
    measured: dict[str, float] = field(default_factory=dict)  # expression-range values recorded so far


class CalibrationSession:
    """The state behind one calibration page; every public method is safe to call from any thread."""

    def __init__(
        self,
        files: CharacterFiles,
        calibration: Calibration,
        reference: np.ndarray,
        source: FaceSource | None = None,
        preview: RainPreview | NoPreview | None = None,
        pose_size: tuple[int, int] = (512, 512),
        countdown_s: float = 3.0,
        hold_s: float = 1.0,
        saved: Calibration | None = None,
        audio: LipSync | None = None,
        audio_hold_s: float = 3.0,
    ) -> None:
        """reference: HxWx3 uint8 RGB (the character's image); pose_size: (height, width) of the model;
        saved: what the file holds now (default: `calibration`), so the page can flag unsaved changes;
        audio: a started microphone (or sound file) for the lip-sync steps, None without one."""
        self.files, self.name, self.path = files, files.name, files.calibration
        self.source, self.preview, self.audio = source, preview, audio
        self.countdown_s, self.hold_s, self.audio_hold_s = countdown_s, hold_s, audio_hold_s
        self.closed = threading.Event()  # set by the page's Close button
        self._lock = threading.RLock()
        self._calib, self._saved = calibration, calibration if saved is None else saved
        recorded = load_neutral(files)
        self._neutral = np.array(NEUTRAL_FACE) if recorded is None else recorded  # the user's, once recorded
        self._neutral_recorded = recorded is not None
        self._steady = SteadyFit()  # auto-fit: the first steady second of the source sets neutral and size
        self._fitted = False  # whether this session has fitted the user's face yet
        self._recording = Recording()
        self._saved_count = 0
        h, w = reference.shape[:2]
        self._ref_size = (w, h)
        scale = OVERLAY_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        self._overlay_base = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
        self._overlay = _Renderer(calibration, size[1], size[0])
        self._pose = _Renderer(calibration, *pose_size)
        if audio is not None:
            audio.set_calibration(calibration.audio)

    # ---- reading -----------------------------------------------------------------------------
    @property
    def calibration(self) -> Calibration:
        with self._lock:
            return self._calib

    @property
    def dirty(self) -> bool:
        """True when the calibration differs from the file on disk."""
        with self._lock:
            return self._calib != self._saved

    def frame(self) -> FaceFrame:
        """Where the neutral face's dots land now (the page's face box and anchors)."""
        with self._lock:
            return measure(params.output_points(self._calib, self._neutral))

    def state(self) -> dict:
        """Everything the page shows, as JSON-ready data."""
        with self._lock:
            calib, rec = self._calib, self._recording
            values = params.values(calib)
            left = max(0.0, rec.ends_at - time.monotonic()) if rec.phase in ("countdown", "recording") else 0.0
            source = None
            if self.source is not None:
                source = {"name": self.source.name, "state": self.source.state.value, "error": self.source.error}
            preview = {"available": False, "reason": "no GPU preview configured"}
            if self.preview is not None:
                preview = {"available": self.preview.available, "reason": self.preview.reason}
            return {
                "name": self.name,
                "path": str(self.path),
                "reference": {"width": self._ref_size[0], "height": self._ref_size[1]},
                "params": [
                    {"key": p.key, "label": p.label, "group": p.group, "min": p.low, "max": p.high,
                     "step": p.step, "value": values[p.key]}
                    for p in params.PARAMS
                ],
                "frame": self.frame().to_json(),
                "expressions": calib.expressions.model_dump(),
                "auto_fit": self._fit_state(),
                "recording": {"step": rec.step, "phase": rec.phase, "seconds_left": left, "message": rec.message,
                              "prompt": rec.prompt},
                "source": source,
                "audio": self.audio_state(),
                "preview": preview,
                "saved_count": self._saved_count,
                "dirty": calib != self._saved,
            }

    def audio_state(self) -> dict:
        """The microphone for the page's level meter: device, state, level, the mouth, the calibration."""
        if self.audio is None:
            return {"available": False, "hint": NO_AUDIO}
        status = self.audio.status()
        with self._lock:
            levels = self._calib.audio
        return {
            "available": True, "device": status["device"], "kind": status["kind"], "state": status["state"],
            "error": status["error"], "level_db": status["level_db"], "open": status["open"],
            "noise_floor_db": levels.noise_floor_db, "speech_db": levels.speech_db,
            "gate_db": levels.noise_floor_db + self.audio.settings.gate_db,
        }

    # ---- images --------------------------------------------------------------------------------
    def overlay_jpeg(self) -> bytes:
        """The reference image with the live dots drawn over it."""
        dots = cv2.dilate(self._overlay.render(self.calibration, self._face()), _GROW)  # visible on any art
        out = np.where(dots.any(axis=2, keepdims=True), dots, self._overlay_base)
        return _encode(".jpg", out)

    def pose_png(self) -> bytes:
        """The landmark image alone, at the model's resolution, as the model receives it."""
        return _encode(".png", self._pose.render(self.calibration, self._face()))

    def preview_jpeg(self) -> bytes | None:
        if self.preview is None or not self.preview.available:
            return None
        self.preview.update(self.calibration, self._face())
        return self.preview.latest_jpeg()

    # ---- editing -------------------------------------------------------------------------------
    def set_params(self, body: dict) -> dict:
        """{"values": {"shape.eye_width_ratio": 1.4, ...}} -> new state."""
        updates = body.get("values")
        if not isinstance(updates, dict):
            raise RainError('expected {"values": {"section.field": number, ...}}')
        with self._lock:
            self._calib = params.with_values(self._calib, updates)
        return self.state()

    def set_frame(self, body: dict) -> dict:
        """The user's face box and anchors -> solved framing and shape values -> new state."""
        target = FaceFrame.from_json(body)
        with self._lock:
            self._calib = params.fit(self._calib, target, self._neutral)
        return self.state()

    def recenter(self) -> dict:
        """Use the current head position (and, with auto-fit, size) as neutral, as /rain/recenter does."""
        face = self._face()
        with self._lock:
            fit = None if face is None else FaceFit.of(*face_input(face, self._calib.framing.mirror))
            if fit is None:
                raise RainError("no face tracked right now; look at the camera and try again")
            self._apply_fit(fit)
        return self.state()

    def set_auto_fit(self, body: dict) -> dict:
        """{"enabled": true|false}: framing.auto_fit; turning it on fits again at the next steady second."""
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise RainError('expected {"enabled": true} or {"enabled": false}')
        with self._lock:
            framing = self._calib.framing.model_copy(update={"auto_fit": enabled})
            self._calib = self._calib.model_copy(update={"framing": framing})
            if enabled:
                self._steady.reset()
                self._fitted = False
        return self.state()

    def record(self, body: dict) -> dict:
        """Start a guided recording step after a countdown: a face step ("neutral", "eyes_closed",
        "mouth_open") or a microphone step ("room_silence", "speech")."""
        step = body.get("step")
        if step in STEPS and self.source is None:
            raise RainError("no face source: start calibrate with --source to record your expressions")
        if step in AUDIO_STEPS and self.audio is None:
            raise RainError(NO_AUDIO)
        if step not in STEPS and step not in AUDIO_STEPS:
            raise RainError(f"unknown recording step {step!r}; use one of {', '.join([*STEPS, *AUDIO_STEPS])}")
        label = _label(step)
        with self._lock:
            if self._recording.phase in ("countdown", "recording"):
                raise RainError("a recording is already running; wait for it to finish")
            rec = self._recording
            rec.step, rec.phase, rec.ends_at = step, "countdown", time.monotonic() + self.countdown_s
            rec.message, rec.prompt = f"{label} in {self.countdown_s:g} s", PROMPTS.get(step, FACE_PROMPT)[0]
        threading.Thread(target=self._record, args=(step,), name=f"calibrate-record-{step}", daemon=True).start()
        return self.state()

    def save(self) -> dict:
        """Write the calibration (atomically, previous kept as .bak)."""
        with self._lock:
            save_calibration(self._calib, self.path)
            if self._neutral_recorded:
                save_neutral(self.files, self._neutral)
            self._saved = self._calib
            self._saved_count += 1
        log.info("saved %s", self.path)
        return {"path": str(self.path), "state": self.state()}

    def quit(self) -> dict:
        self.closed.set()
        return {"ok": True}

    # ---- internals -----------------------------------------------------------------------------
    def _face(self) -> FaceState | None:
        """The source's latest face, also fed to auto-fit (every image request samples the source)."""
        face = self.source.latest() if self.source is not None else None
        if face is not None:
            with self._lock:
                framing = self._calib.framing
                if framing.auto_fit and not self._fitted:
                    points, valid = face_input(face, framing.mirror)
                    fit = self._steady.observe(points, valid, face.timestamp_ns, face.rotation)
                    if fit is not None:
                        self._apply_fit(fit)
        return face

    def _apply_fit(self, fit: FaceFit) -> None:
        """Record the user's neutral position (and size, with auto-fit) in the calibration; holds the lock."""
        framing = fit.framing(self._calib.framing, size=self._calib.framing.auto_fit)
        self._calib = self._calib.model_copy(update={"framing": framing})
        self._fitted = True

    def _fit_state(self) -> dict:
        """What the page shows about auto-fit; holds the lock."""
        framing = self._calib.framing
        state = "off" if not framing.auto_fit else "fitted" if self._fitted else "waiting"
        return {"enabled": framing.auto_fit, "state": state, "neutral_size": framing.neutral_size,
                "neutral": [framing.neutral_x, framing.neutral_y]}

    def _record(self, step: str) -> None:
        """Countdown, then record for the step's hold time, then apply; never raises (runs on a thread)."""
        rec, label = self._recording, _label(step)
        audio = step in AUDIO_STEPS
        try:
            time.sleep(max(0.0, rec.ends_at - time.monotonic()))
            with self._lock:
                rec.phase, rec.ends_at = "recording", time.monotonic() + (self.audio_hold_s if audio else self.hold_s)
                rec.message = f"{label}: {PROMPTS.get(step, FACE_PROMPT)[1]}"
            message = self._record_audio(step, rec.ends_at) if audio else self._record_face(step, rec.ends_at)
            with self._lock:
                rec.phase, rec.message = "done", message
        except (RainError, ValidationError, ValueError) as err:
            with self._lock:
                rec.phase, rec.message = "failed", f"{label} failed: {err}"
        except Exception as err:  # a recording thread never dies silently
            log.exception("recording %s failed", step)
            with self._lock:
                rec.phase, rec.message = "failed", f"{label} failed: {err}"

    def _record_face(self, step: str, until: float) -> str:
        """Faces until `until` -> the expression ranges (and, for neutral, the user's neutral face)."""
        faces = self._collect(until)
        if not faces:
            raise RainError("no face was tracked while recording; check the face source and try again")
        measured, neutral = measure_step(step, faces)
        with self._lock:
            rec = self._recording
            target = self.frame()
            merged = {**rec.measured, **measured}
            ranges = expression_ranges(self._calib.expressions, merged)
            self._calib = self._calib.model_copy(update={"expressions": ranges})
            if neutral is not None and (fit := FaceFit.of(neutral)) is not None:
                self._neutral, self._neutral_recorded = neutral, True
                self._apply_fit(fit)
                self._calib = params.fit(self._calib, target, self._neutral)  # keep the dots where the user placed the face
            rec.measured = merged
        return f"recorded {STEPS[step].lower()} from {len(faces)} frames"

    def _record_audio(self, step: str, until: float) -> str:
        """The sound until `until` -> the calibration's noise floor or speech level (the microphone follows it)."""
        assert self.audio is not None, "record() checks for a microphone"
        start_ns = time.monotonic_ns()
        time.sleep(max(0.0, until - time.monotonic()))
        end_ns = time.monotonic_ns()
        time.sleep(self.audio.delay_ns / 1e9)  # the last hops of the step reach the ring
        levels = [hop.level_db for hop in self.audio.hops_between(start_ns, end_ns)]
        with self._lock:
            levels_now, message = measure_audio(step, levels, self._calib.audio, self.audio.settings.gate_db)
            self._calib = self._calib.model_copy(update={"audio": levels_now})
        self.audio.set_calibration(levels_now)
        return f"recorded {AUDIO_STEPS[step].lower()}: {message}"

    def _collect(self, until: float) -> list[FaceState]:
        """Distinct fully tracked faces seen before `until` (monotonic seconds)."""
        faces: dict[int, FaceState] = {}
        while time.monotonic() < until:
            face = self._face()
            if face is not None and np.asarray(face.valid).all():
                faces[face.timestamp_ns] = face
            time.sleep(0.01)
        return list(faces.values())


def _label(step: str) -> str:
    return STEPS.get(step) or AUDIO_STEPS[step]


class _Renderer:
    """A PoseRenderer behind a lock that follows the session's calibration."""

    def __init__(self, calib: Calibration, height: int, width: int) -> None:
        self._lock = threading.Lock()
        self._renderer = PoseRenderer(calib, height=height, width=width, auto_fit=False)  # the session fits

    def render(self, calib: Calibration, face: FaceState | None) -> np.ndarray:
        with self._lock:
            if self._renderer.calibration != calib:
                self._renderer.set_calibration(calib)
            return self._renderer.render(face)


def _encode(ext: str, rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError(f"cannot encode {ext}")
    return data.tobytes()

