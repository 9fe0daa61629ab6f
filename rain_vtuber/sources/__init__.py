"""Face sources: webcam, video, image folder/image, screen (mediapipe), iFacialMocap and VMC (rig).

    src = open_source(SourceConfig(kind="webcam", camera=0))
    src.start(); face = src.latest(); src.state; src.stop()
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rain_vtuber.errors import RainError
from rain_vtuber.sources.base import FaceSource, SourceCounters
from rain_vtuber.utils.validation import describe_errors

SourceKind = Literal["webcam", "video", "folder", "image", "screen", "ifacialmocap", "vmc"]
IFACIALMOCAP_PORT = 49983  # UDP, both ways (the app's own port)
VMC_PORT = 39539  # UDP, the VMC receiver ("Marionette") default
DEFAULT_PORTS = {"ifacialmocap": IFACIALMOCAP_PORT, "vmc": VMC_PORT}
_PATH_KINDS = ("video", "folder", "image")
_NETWORK_KINDS = ("ifacialmocap", "vmc")
_TRACKED = ("crop_ratio", "frame_size", "face_model")  # every source that runs the face tracker on pictures
_PLAYBACK = ("path", "loop", "realtime", "fps")
KIND_KEYS: dict[str, frozenset[str]] = {
    "webcam": frozenset({"camera", "capture_width", "capture_height", *_TRACKED}),
    "video": frozenset({"path", "loop", "realtime", *_TRACKED}),
    "folder": frozenset({*_PLAYBACK, *_TRACKED}),
    "image": frozenset({*_PLAYBACK, *_TRACKED}),
    "screen": frozenset({"monitor", "region", "fps", *_TRACKED}),
    "ifacialmocap": frozenset({"host", "port", "phone_host", "phone_port", "protocol", "lost_after_s"}),
    "vmc": frozenset({"host", "port", "lost_after_s"}),
}
"""The settings each kind reads (besides `kind`); a setting meant for another kind is an error."""

class SourceConfig(BaseModel):
    """Where faces come from and how to read them (one model for config files and CLI flags)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SourceKind = "webcam"
    # camera-like sources
    camera: int = Field(default=0, ge=0, description="webcam index")
    capture_width: int | None = Field(default=1280, gt=0)
    capture_height: int | None = Field(default=720, gt=0)
    crop_ratio: float = Field(default=0.9, gt=0.0, le=1.0, description="side of the centred square / min(h, w)")
    frame_size: int = Field(default=512, ge=64, le=4096, description="the square is resized to this before tracking")
    # recorded faces
    path: Path | None = None
    loop: bool = False
    realtime: bool = Field(default=False, description="play video/folder at its frame rate instead of flat out")
    fps: float = Field(default=30.0, gt=0.0, le=240.0, description="folder playback and screen grab rate")
    # screen
    monitor: int = Field(default=1, ge=0, description="mss monitor: 1 = primary, 0 = all monitors")
    region: tuple[int, int, int, int] | None = Field(default=None, description="left, top, width, height")
    # network trackers
    host: str = Field(default="0.0.0.0", description="address to listen on")
    port: int | None = Field(default=None, ge=0, le=65535, description="default: 49983 iFacialMocap, 39539 VMC")
    phone_host: str | None = Field(default=None, description="iFacialMocap: the phone's address for the handshake")
    phone_port: int = Field(default=IFACIALMOCAP_PORT, ge=1, le=65535)
    protocol: Literal["v1", "v2"] = "v2"
    lost_after_s: float = Field(default=0.5, gt=0.0, le=60.0, description="no data this long means LOST")
    # camera-like and recorded sources
    face_model: Path | None = Field(default=None, description="face_landmarker.task (default: the weights cache)")

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        foreign = sorted(self.model_fields_set - KIND_KEYS[self.kind] - {"kind"})
        if foreign:
            raise ValueError(f"{', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply to source kind "
                             f"{self.kind!r}, which takes: {', '.join(sorted(KIND_KEYS[self.kind]))}")
        if self.kind in _PATH_KINDS and self.path is None:
            raise ValueError(f"source kind {self.kind!r} needs a path")
        if self.region is not None and (self.region[2] <= 0 or self.region[3] <= 0):
            raise ValueError(f"screen region width and height must be > 0, got {self.region}")
        return self

    @property
    def listen_port(self) -> int:
        """The UDP port a network source listens on (its protocol's default unless set)."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.kind, 0)


def source_config(settings: dict[str, object]) -> SourceConfig:
    """Validated source settings from flags or a file; RainError naming the key and what is allowed."""
    try:
        return SourceConfig.model_validate(settings)
    except ValidationError as err:
        raise RainError(f"bad face source settings: {describe_errors(err, SourceConfig)}") from None


def open_source(cfg: SourceConfig, weights: Path | None = None) -> FaceSource:
    """Build the source `cfg` describes (not started); RainError if its file or folder is missing.

    `weights`: the RAIN weights folder in use, where the face model is looked for after
    cfg.face_model and $RAIN_VTUBER_FACE_MODEL.
    """
    if cfg.kind in _PATH_KINDS and not cfg.path.exists():  # type: ignore[union-attr]
        raise RainError(f"{cfg.kind} source: {cfg.path} does not exist; check the path")
    if cfg.kind in _NETWORK_KINDS:
        return _open_network(cfg)
    from rain_vtuber.sources.face_model import resolve_face_model

    model = resolve_face_model(cfg.face_model, weights)
    if cfg.kind == "webcam":
        from rain_vtuber.sources.webcam import WebcamSource

        return WebcamSource(cfg.camera, cfg.capture_width, cfg.capture_height, cfg.crop_ratio, cfg.frame_size, model)
    if cfg.kind == "video":
        from rain_vtuber.sources.video import VideoSource

        return VideoSource(cfg.path, cfg.crop_ratio, cfg.frame_size, model, cfg.realtime, cfg.loop)  # type: ignore[arg-type]
    if cfg.kind in ("folder", "image"):
        from rain_vtuber.sources.video import ImageFolderSource

        return ImageFolderSource(cfg.path, cfg.crop_ratio, cfg.frame_size, model, cfg.realtime, cfg.loop, cfg.fps)  # type: ignore[arg-type]
    from rain_vtuber.sources.screen import ScreenSource

    return ScreenSource(cfg.monitor, cfg.region, cfg.crop_ratio, cfg.frame_size, model, cfg.fps)


def _open_network(cfg: SourceConfig) -> FaceSource:
    """The iFacialMocap or VMC receiver (blend shapes through the rig; no face model needed)."""
    if cfg.kind == "ifacialmocap":
        from rain_vtuber.sources.ifacialmocap import IFacialMocapSource

        return IFacialMocapSource(cfg.host, cfg.listen_port, cfg.phone_host, cfg.phone_port, cfg.protocol,
                                  cfg.lost_after_s)
    from rain_vtuber.sources.vmc import VmcSource

    return VmcSource(cfg.host, cfg.listen_port, cfg.lost_after_s)


__all__ = ["KIND_KEYS", "FaceSource", "SourceConfig", "SourceCounters", "open_source", "source_config"]
