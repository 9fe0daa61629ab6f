"""`rain-vtuber calibrate` as a library call: check everything, then write, then serve the page.

Order matters for "nothing half-written": the image, the name, the port, the face source and the
microphone are all checked before the character is created on disk.
"""

from __future__ import annotations

import time
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from rain_vtuber.audio import AudioSettings, LipSync
from rain_vtuber.calibrate import params
from rain_vtuber.calibrate.character import (
    CharacterFiles,
    check_new,
    create_character,
    load_neutral,
    open_character,
    read_image,
)
from rain_vtuber.calibrate.preview import NoPreview, RainPreview, start_preview
from rain_vtuber.calibrate.server import CalibrationServer
from rain_vtuber.calibrate.session import CalibrationSession
from rain_vtuber.calibrate.solver import FaceFrame
from rain_vtuber.errors import RainError
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.state import TrackingState
from rain_vtuber.landmarks import Calibration, load_calibration, save_calibration
from rain_vtuber.sources import FaceSource, SourceConfig, open_source

NETWORK_KINDS = ("ifacialmocap", "vmc")


@dataclass(frozen=True)
class PreviewOptions:
    weights: Path | None = None
    config: Path | None = None
    device: str = "cuda"
    dtype: str = "fp16"


@dataclass(frozen=True)
class CalibrateRequest:
    """What the user asked for (the CLI's flags, already parsed)."""

    files: CharacterFiles
    image: Path | None = None  # None: reopen an existing character
    force: bool = False
    values: Mapping[str, float] = field(default_factory=dict)  # "framing.scale" -> 0.8, ...
    face_box: tuple[float, float, float, float] | None = None  # solve framing to fit this box
    source: SourceConfig | None = None
    port: int = 0
    countdown_s: float = 3.0
    preview: PreviewOptions = PreviewOptions()
    audio: AudioSettings | None = None  # a microphone or sound file for the lip-sync steps


@dataclass
class Running:
    """A started calibration page; stop() releases everything (idempotent)."""

    server: CalibrationServer
    session: CalibrationSession
    source: FaceSource | None
    preview: RainPreview | NoPreview
    audio: LipSync | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.source is not None:
            self.source.stop()
        if self.audio is not None:
            self.audio.stop()
        self.preview.stop()


def write_without_ui(request: CalibrateRequest) -> Path:
    """--no-ui: create (or update) the character from flags only; returns the calibration path."""
    _, calib = _initial(request)
    if request.image is not None:
        create_character(request.files, request.image, calib, request.force)
    else:
        save_calibration(calib, request.files.calibration)
    return request.files.calibration


def start(request: CalibrateRequest) -> Running:
    """Check, bind the port, start the source and the microphone, write the character, then serve the page."""
    reference, calib = _initial(request)
    server = CalibrationServer(request.port)
    source = audio = None
    try:
        source = _start_source(request.source) if request.source is not None else None
        audio = LipSync(request.audio, calib.audio).start() if request.audio is not None else None
        if request.image is not None:
            create_character(request.files, request.image, calib, request.force)
        on_disk = load_calibration(request.files.calibration) if request.files.calibration.exists() else None
        preview = start_preview(
            request.preview.weights, request.preview.config, request.preview.device, request.preview.dtype,
            reference, calib,
        )
    except BaseException:
        server.server_close()
        if source is not None:
            source.stop()
        if audio is not None:
            audio.stop()
        raise
    session = CalibrationSession(
        request.files, calib, reference, source, preview, countdown_s=request.countdown_s, saved=on_disk, audio=audio
    )
    server.start(session)
    return Running(server, session, source, preview, audio)


def serve(request: CalibrateRequest, open_browser: bool = True, announce: Callable[[str], None] = print) -> None:
    """Run the page until it is closed (its Close button) or Ctrl-C."""
    running = start(request)
    announce(f"Calibration page for '{request.files.name}': {running.url}  (Ctrl-C to stop)")
    created = f"created {request.files.folder}; " if request.image is not None else ""
    announce(f"{created}Save writes {request.files.calibration}")
    if open_browser:
        webbrowser.open(running.url)
    try:
        while not running.session.closed.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    if running.session.dirty:
        announce(f"unsaved changes were discarded; {request.files.calibration} keeps the last saved values")


def _initial(request: CalibrateRequest) -> tuple[np.ndarray, Calibration]:
    """The reference image and the starting calibration, with the flags applied; checks first."""
    files = request.files
    if request.image is not None:
        check_new(files, request.force)
        reference, calib = read_image(request.image), Calibration()
    else:
        reference, calib = open_character(files)
    calib = params.with_values(calib, request.values)
    if request.face_box is not None:
        frame = FaceFrame.from_json({"box": request.face_box, "anchors": _anchors_in(request.face_box)})
        neutral = load_neutral(files) if request.image is None else None  # a new character starts fresh
        calib = params.fit(calib, frame, NEUTRAL_FACE if neutral is None else neutral)
    return reference, calib


def _anchors_in(box: tuple[float, float, float, float]) -> dict[str, list[float]]:
    """Typical anime anchor places inside a face box (eyes a third down, mouth near the chin)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    at = lambda fx, fy: [left + fx * w, top + fy * h]  # noqa: E731
    return {"right_eye": at(0.3, 0.42), "left_eye": at(0.7, 0.42), "nose": at(0.5, 0.62), "mouth": at(0.5, 0.78)}


def _start_source(cfg: SourceConfig, startup_s: float = 10.0) -> FaceSource:
    """Open and start the source; RainError (and nothing left running) if it fails right away."""
    source = open_source(cfg)
    source.start()
    deadline = time.monotonic() + (1.0 if cfg.kind in NETWORK_KINDS else startup_s)
    while source.state is TrackingState.WAITING and time.monotonic() < deadline:
        time.sleep(0.05)
    if source.state is TrackingState.ERROR:
        message = source.error
        source.stop()
        raise RainError(f"face source '{source.name}' ({cfg.kind}) failed: {message}")
    return source
