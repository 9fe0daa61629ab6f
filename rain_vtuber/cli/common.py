"""Options shared by several commands, and the one place that prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml
from rich.console import Console

from rain_vtuber.errors import RainError

console = Console(stderr=True)

WeightsOpt = Annotated[
    Optional[Path],
    typer.Option("--weights", help="Local RAIN weights folder (default: the download cache)."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="RAIN config in the release schema (default: the one in the weights folder)."),
]
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
SourceOptOpt = Annotated[
    Optional[list[str]], typer.Option("--source-opt", help="Source setting KEY=VALUE (repeatable).")
]


def source_flags(
    camera: int | None, path: Path | None, port: int | None, phone_host: str | None, extra: list[str] | None
) -> dict[str, Any]:
    """The source settings given on the command line (unset flags left out; KEY=VALUE read as YAML scalars)."""
    options = {"camera": camera, "path": path, "port": port, "phone_host": phone_host}
    flags: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    for option in extra or []:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise RainError(f"--source-opt expects KEY=VALUE, got '{option}'")
        flags[key.strip()] = yaml.safe_load(value)
    return flags
