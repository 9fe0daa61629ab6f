"""`rain-vtuber daemon`: stream your face as a RAIN character to NDI until stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import yaml

from rain_vtuber.cli.common import WeightsOpt
from rain_vtuber.daemon import daemon as lifecycle
from rain_vtuber.daemon.config import load_config
from rain_vtuber.errors import RainError
from rain_vtuber.sources import SourceConfig


def _source(kind: str | None, options: dict[str, Any], extra: list[str], base: SourceConfig) -> dict[str, Any] | None:
    """--source, its flags and --source-opt KEY=VALUE (YAML scalars) -> the source mapping, None if unchanged."""
    options = {k: v for k, v in options.items() if v is not None}
    for option in extra:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise RainError(f"--source-opt expects KEY=VALUE, got '{option}'")
        options[key.strip()] = yaml.safe_load(value)
    if kind is None and not options:
        return None
    # a different kind starts from scratch: the configured options belong to the configured kind
    source = base.model_dump() if kind in (None, base.kind) else {"kind": kind}
    return {**source, **options}


def daemon(
    config: Annotated[Optional[Path], typer.Option("--config", help="Daemon YAML config (keys: see the README).")] = None,
    weights: WeightsOpt = None,
    engine_config: Annotated[Optional[Path], typer.Option("--engine-config", help="RAIN release config.")] = None,
    character: Annotated[Optional[str], typer.Option("--character", help="Character to start with.")] = None,
    characters_dir: Annotated[Optional[Path], typer.Option("--characters-dir", help="Characters folder.")] = None,
    calibration_dir: Annotated[Optional[Path], typer.Option("--calibration-dir", help="Calibrations folder.")] = None,
    source: Annotated[
        Optional[str], typer.Option("--source", help="webcam, video, folder, screen, ifacialmocap or vmc.")
    ] = None,
    camera: Annotated[Optional[int], typer.Option("--camera", help="Webcam index.")] = None,
    source_path: Annotated[Optional[Path], typer.Option("--source-path", help="Video file or image folder.")] = None,
    source_port: Annotated[Optional[int], typer.Option("--source-port", help="VMC / iFacialMocap UDP port.")] = None,
    phone_host: Annotated[Optional[str], typer.Option("--phone-host", help="iFacialMocap phone address.")] = None,
    source_opt: Annotated[
        Optional[list[str]], typer.Option("--source-opt", help="Source setting KEY=VALUE (repeatable).")
    ] = None,
    resolution: Annotated[Optional[int], typer.Option("--resolution", help="NDI output size in pixels.")] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="auto, fp16, bf16 or fp32.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda, cuda:1, ...")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="auto, tensorrt, torch-compile or torch.")] = None,
    ndi_name: Annotated[Optional[str], typer.Option("--ndi-name", help="NDI source name.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Output fps (default: what the engine sustains).")] = None,
    control_port: Annotated[Optional[int], typer.Option("--control-port", help="OSC control port.")] = None,
    token: Annotated[Optional[str], typer.Option("--token", help="Require this token on control messages.")] = None,
    log_file: Annotated[Optional[Path], typer.Option("--log-file", help="Rotating log file.")] = None,
) -> None:
    """Run the live stream: face source -> RAIN -> NDI (stop with Ctrl-C or `rain-vtuber ctl shutdown`).

    \b
    Examples:
      rain-vtuber daemon
      rain-vtuber daemon --character alice --source vmc --source-port 39540
      rain-vtuber daemon --source ifacialmocap --phone-host 192.168.1.23
      rain-vtuber daemon --source webcam --camera 1 --source-opt crop_ratio=0.8
      rain-vtuber daemon --config stream.yaml --fps 24
    """
    base = load_config(config)
    cfg = base.with_overrides(
        weights=weights, engine_config=engine_config, character=character, characters_dir=characters_dir,
        calibration_dir=calibration_dir,
        source=_source(
            source, {"camera": camera, "path": source_path, "port": source_port, "phone_host": phone_host},
            source_opt or [], base.source,
        ),
        resolution=resolution, dtype=dtype, device=device, backend=backend, ndi_name=ndi_name, fps=fps,
        control_port=control_port, token=token, log_file=log_file,
    )
    lifecycle.exit_process(lifecycle.run(cfg))
