"""DaemonConfig: everything `rain-vtuber daemon` can be told, with defaults that work unconfigured."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.ndi import parse_hex_colour
from rain_vtuber.paths import default_log_file, default_state_file
from rain_vtuber.sources import SourceConfig

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
    resolution: int = Field(512, ge=64, le=2048, description="NDI output size (square); frames are resized")
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
    stream_health: bool = Field(
        True, description="watch the output's colour against the character and steer a drifting stream back (off: never)"
    )
    ndi_name: str = Field("RAIN VTuber", min_length=1, description="NDI source name (OBS shows 'HOST (name)')")
    ndi_format: Literal["bgra", "bgrx"] = Field("bgra", description="bgra carries alpha; bgrx is opaque")
    background_key: str = Field(
        "none", description="none, reference (key out the reference image's background colour) or #RRGGBB"
    )
    key_tolerance: int = Field(24, ge=0, le=255, description="max per-channel distance keyed out")
    fps: Optional[float] = Field(None, gt=0, le=120, description="output fps; None = what the engine sustains")
    max_fps: float = Field(60.0, gt=0, le=120, description="cap for the measured fps (face sampling and NDI)")
    fps_headroom: float = Field(0.85, gt=0, le=1, description="fraction of the measured engine speed used")
    control_port: int = Field(9050, ge=1, le=65535, description="OSC control port")
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

    @field_validator("background_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if value not in ("none", "reference") and not _HEX.match(value):
            raise ValueError(f"must be none, reference or #RRGGBB, got {value!r}")
        return value

    def memory_path(self) -> Path:
        return self.state_file or default_state_file(self.control_port)

    def key_colour(self) -> tuple[int, int, int] | None:
        """The fixed key colour when background_key is #RRGGBB; None for none/reference."""
        if not self.background_key.startswith("#"):
            return None
        return parse_hex_colour(self.background_key)

    def with_overrides(self, **overrides: Any) -> "DaemonConfig":
        """A copy with the non-None overrides applied and validated (CLI flags win over the file)."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return _validate(data, "command line")


# (section, key) of every path setting; relative ones in a file mean "next to the file"
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
    for section, key in _PATH_KEYS:
        holder = raw.get(section) if section else raw
        if isinstance(holder, dict) and holder.get(key) is not None:
            value = Path(holder[key]).expanduser()
            holder[key] = value if value.is_absolute() else path.parent / value
    return _validate(raw, str(path))


def _validate(data: dict[str, Any], origin: str) -> DaemonConfig:
    try:
        return DaemonConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']} (got {e.get('input')!r})"
            for e in err.errors()
        )
        raise RainError(f"{origin}: invalid daemon config: {problems}") from None
