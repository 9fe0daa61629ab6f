"""Options shared by several commands, and the one place that prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml
from rain_vtuber.audio import AudioSettings
from rain_vtuber.errors import RainError
from rain_vtuber.utils.console import console

__all__ = ["console"]  # re-exported: the commands print through cli.common

WeightsOpt = Annotated[
    Optional[Path],
    typer.Option("--weights", help="Local RAIN weights folder (default: the download cache)."),
]
EngineConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--engine-config", help="RAIN config in the release schema (default: the one in the weights folder)."),
]
# --config means the daemon's YAML; render/calibrate/doctor once used it for the RAIN config
OldEngineConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", hidden=True, help="Deprecated: use --engine-config.")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output .mp4 file or a folder for PNG frames.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="fp32, fp16 or bf16.")]
LatencyOpt = Annotated[
    Optional[str], typer.Option("--latency", help="standard (16-frame pile, as released) or low (8 frames).")
]
BackendOpt = Annotated[
    str, typer.Option("--backend", help="auto, torch, torch-compile or tensorrt.")
]

# The face-source flags shared by `daemon`, `calibrate` (and anything else that opens a source).
SourceKindOpt = Annotated[
    Optional[str], typer.Option("--source", help="Your face: webcam, video, folder, image, screen, ifacialmocap, vmc.")
]
CameraOpt = Annotated[Optional[int], typer.Option("--camera", help="Webcam index.")]
SourcePathOpt = Annotated[Optional[Path], typer.Option("--source-path", help="Video file, image or folder.")]
SourcePortOpt = Annotated[Optional[int], typer.Option("--source-port", help="VMC / iFacialMocap UDP port.")]
PhoneHostOpt = Annotated[Optional[str], typer.Option("--phone-host", help="iFacialMocap phone address.")]
FaceModelOpt = Annotated[
    Optional[Path],
    typer.Option("--face-model", help="face_landmarker.task for camera/video/image sources (default: the weights cache)."),
]
AudioOpt = Annotated[
    Optional[str],
    typer.Option("--audio", help="Microphone lip sync: a microphone (name or part of it, index, or 'default'; "
                                 "`rain-vtuber doctor` lists them) or a WAV/FLAC file."),
]
SourceOptOpt = Annotated[
    Optional[list[str]], typer.Option("--source-opt", help="Source setting KEY=VALUE (repeatable).")
]


def audio_flag(text: str, configured: AudioSettings | None = None) -> AudioSettings:
    """--audio DEVICE|FILE over the configured audio settings (the input replaced, the rest kept)."""
    kept = configured.model_dump(exclude_unset=True, exclude={"input"}) if configured is not None else {}
    return AudioSettings.from_flag(text, **kept)


def engine_config_flag(engine_config: Path | None, old_spelling: Path | None) -> Path | None:
    """--engine-config, or the old --config spelling with a deprecation warning (both at once: an error)."""
    if old_spelling is None:
        return engine_config
    if engine_config is not None:
        raise RainError("give the RAIN config once, with --engine-config (--config is its old spelling here)")
    console.print("[yellow]warning:[/yellow] --config is deprecated here: use --engine-config "
                  "(--config now only means the daemon's YAML)")
    return old_spelling


def source_flags(
    camera: int | None, path: Path | None, port: int | None, phone_host: str | None, extra: list[str] | None,
    face_model: Path | None = None,
) -> dict[str, Any]:
    """The source settings given on the command line (unset flags left out; KEY=VALUE read as YAML scalars)."""
    options = {"camera": camera, "path": path, "port": port, "phone_host": phone_host, "face_model": face_model}
    flags: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    for option in extra or []:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise RainError(f"--source-opt expects KEY=VALUE, got '{option}'")
        flags[key.strip()] = yaml.safe_load(value)
    return flags
