"""DaemonConfig: everything `rain-vtuber daemon` can be told, with defaults that work unconfigured."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rain_vtuber.daemon.control import DEFAULT_CONTROL_PORT
from rain_vtuber.audio import AudioSettings
from rain_vtuber.errors import RainError
from rain_vtuber.face import IdleOptions
from rain_vtuber.landmarks.picture import parse_hex_colour
from rain_vtuber.outputs.base import OutputSettings
from rain_vtuber.outputs.registry import OutputEntry
from rain_vtuber.paths import default_log_file, default_state_file
from rain_vtuber.sources import SourceConfig
from rain_vtuber.utils.validation import describe_errors

log = logging.getLogger(__name__)

DEFAULT_OUTPUTS: tuple[dict[str, Any], ...] = ({"kind": "ndi"}, {"kind": "browser"})
"""OBS's own Browser Source needs no plugin; NDI is there for DistroAV users and other PCs."""
LEGACY_NDI_KEYS = {"ndi_name": "ndi_name", "ndi_format": "format"}  # top-level key -> the NDI entry's key

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


class DaemonConfig(BaseModel):
    """Daemon settings; YAML keys are these field names (unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: Optional[Path] = Field(None, description="RAIN weights folder; None = the download cache")
    engine_config: Optional[Path] = Field(None, description="release-schema config; None = the weights' own")
    characters_dir: Optional[Path] = Field(
        None, description="one folder per character (reference.png); None = ./characters, the user's, the package's"
    )
    calibration_dir: Optional[Path] = Field(
        None, description="<character>.yaml calibration files; None = ./calibration, the user's, the package's"
    )
    character: str = Field("default", description="character active at start")
    source: SourceConfig = Field(default_factory=SourceConfig, description="face source (webcam 0 by default)")
    output_size: int = Field(512, ge=64, le=4096, description="size of every output (square); frames are resized")
    model_size: Optional[int] = Field(
        None, ge=64, le=2048, multiple_of=64, description="size RAIN runs at (square); None = the release config's (512)"
    )
    outputs: list[OutputEntry] = Field(
        default_factory=lambda: list(DEFAULT_OUTPUTS), validate_default=True,
        description="where frames go: a list of entries keyed on kind",
    )
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = Field("auto", description="auto = fp16 on CUDA, else fp32")
    device: str = Field("auto", description="auto = cuda if available, else cpu; or cpu, cuda, cuda:1")
    decoder: Literal["taesdv", "vae"] = Field("taesdv", description="taesdv (fast, temporal) or vae (SD VAE)")
    backend: Literal["auto", "tensorrt", "torch-compile", "torch"] = Field(
        "auto", description="stream step backend; auto = the fastest that runs here (see docs/benchmarks.md)"
    )
    keep_fusion_models: bool = Field(
        False, description="keep CLIP, VAE encoder and ReferenceNet on the GPU after fusing (faster fusion, ~2.4 GB more)"
    )
    latency: Literal["standard", "low"] = Field(
        "standard", description="standard = the release pile (16 frames deep); low = 8 frames, less temporal continuity"
    )
    audio: AudioSettings = Field(
        default_factory=AudioSettings, description="microphone lip sync: the input and how the mouth follows it"
    )
    idle: IdleOptions = Field(
        default_factory=IdleOptions, description="idle life while no face is tracked: blinks, breathing, sway"
    )
    stream_health: bool = Field(
        True, description="watch the output's colour against the character and steer a drifting stream back (off: never)"
    )
    background_key: str = Field(
        "none", description="none, reference (key out the reference image's background colour) or #RRGGBB"
    )
    key_tolerance: int = Field(24, ge=0, le=255, description="max per-channel distance keyed out")
    fps: Optional[float] = Field(None, gt=0, le=120, description="output fps; None = what the engine sustains")
    max_fps: float = Field(60.0, gt=0, le=120, description="cap for the measured fps (face sampling and NDI)")
    fps_headroom: float = Field(0.85, gt=0, le=1, description="fraction of the measured engine speed used")
    control_port: int = Field(DEFAULT_CONTROL_PORT, ge=1, le=65535, description="OSC control port")
    control_host: str = Field(
        "127.0.0.1", description="address the control port binds; another PC's OBS needs this PC's LAN address (+ token)"
    )
    token: Optional[str] = Field(None, min_length=1, description="shared secret every control message carries first")
    log_file: Optional[Path] = Field(default_factory=default_log_file, description="rotating log file; None = console only")
    log_max_bytes: int = Field(5_000_000, ge=10_000, description="rotate the log file at this size")
    log_backups: int = Field(3, ge=0, description="rotated log files kept")
    state_file: Optional[Path] = Field(
        None, description="remembers the active character and recenter across restarts; None = per control port"
    )

    @field_validator("outputs")
    @classmethod
    def _unique_names(cls, outputs: list[OutputSettings]) -> list[OutputSettings]:
        labels = [o.label for o in outputs]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two outputs are named {', '.join(twice)}: give each a different `name`")
        return outputs

    @model_validator(mode="before")
    @classmethod
    def _fold_legacy_keys(cls, data: Any) -> Any:
        """Keys of older versions, still read: resolution (the output size), ndi_name / ndi_format (the NDI entry)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "resolution" in data:
            size = data.pop("resolution")
            if data.get("output_size", size) != size:
                raise ValueError("give the output size once: output_size (resolution is its old name)")
            data["output_size"] = size
        legacy = {LEGACY_NDI_KEYS[k]: data.pop(k) for k in list(data) if k in LEGACY_NDI_KEYS}
        if legacy:
            entries = [dict(e) if isinstance(e, dict) else e.model_dump() for e in data.get("outputs", DEFAULT_OUTPUTS)]
            ndi = [e for e in entries if e.get("kind") == "ndi"]
            if not ndi:
                raise ValueError(f"{', '.join(k for k in LEGACY_NDI_KEYS if LEGACY_NDI_KEYS[k] in legacy)} "
                                 "set, but `outputs` has no ndi entry")
            for entry in ndi:
                entry.update(legacy)
            data["outputs"] = entries
        return data

    @field_validator("background_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if value not in ("none", "reference") and not _HEX.match(value):
            raise ValueError(f"must be none, reference or #RRGGBB, got {value!r}")
        return value

    def output_settings(self) -> list[OutputSettings]:
        """The outputs; an entry served to other machines gets the control token unless it has its own."""
        return [
            entry.model_copy(update={"token": self.token})
            if "token" in type(entry).model_fields and getattr(entry, "token") is None else entry
            for entry in self.outputs
        ]

    def state_path(self) -> Path:
        return self.state_file or default_state_file(self.control_port)

    def key_colour(self) -> tuple[int, int, int] | None:
        """The fixed key colour when background_key is #RRGGBB; None for none/reference."""
        if not self.background_key.startswith("#"):
            return None
        return parse_hex_colour(self.background_key)

    def with_overrides(self, **overrides: Any) -> "DaemonConfig":
        """A copy with the non-None overrides applied and validated (CLI flags win over the file)."""
        data = self.model_dump(exclude_unset=True)
        given = {k: v for k, v in overrides.items() if v is not None}
        if "resolution" in given:
            data.pop("output_size", None)  # the flag's old spelling wins over the file's value like any flag
        data.update(given)
        return _validate(data, "command line")


# (section, key) of every path setting (and each output's `path`); relative ones in a file mean "next to the file"
_PATH_KEYS = [("", k) for k in ("weights", "engine_config", "characters_dir", "calibration_dir", "log_file")]
_PATH_KEYS.append(("source", "path"))


def load_config(path: Path | None) -> DaemonConfig:
    """YAML file -> DaemonConfig; relative paths in the file resolve against the file's folder."""
    if path is None:
        return DaemonConfig()
    path = Path(path)
    if not path.is_file():
        raise RainError(f"daemon config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise RainError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise RainError(f"{path}: expected a mapping of daemon settings")
    entries = raw.get("outputs") if isinstance(raw.get("outputs"), list) else []
    holders = [(raw.get(section) if section else raw, key) for section, key in _PATH_KEYS]
    for holder, key in [*holders, *((entry, "path") for entry in entries)]:
        if isinstance(holder, dict) and holder.get(key) is not None:
            value = Path(holder[key]).expanduser()
            holder[key] = value if value.is_absolute() else path.parent / value
    config = _validate(raw, str(path))
    return config.model_copy(update={"audio": config.audio.relative_to(path.parent)})


def _validate(data: dict[str, Any], origin: str) -> DaemonConfig:
    if "resolution" in data:
        log.warning("%s: `resolution` is deprecated: it is the output size, now `output_size` "
                    "(`model_size` sets the size RAIN runs at)", origin)
    try:
        return DaemonConfig.model_validate(data)
    except ValidationError as err:
        raise RainError(f"{origin}: invalid daemon config: {describe_errors(err, DaemonConfig)}") from None
