"""`rain-vtuber daemon`: stream your face as a RAIN character to NDI until stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rain_vtuber.cli.common import (
    AudioOpt,
    CameraOpt,
    EngineConfigOpt,
    FaceModelOpt,
    LatencyOpt,
    PhoneHostOpt,
    SourceKindOpt,
    SourceOptOpt,
    SourcePathOpt,
    SourcePortOpt,
    WeightsOpt,
    audio_flag,
    source_flags,
)
from rain_vtuber.daemon import daemon as lifecycle
from rain_vtuber.daemon.config import load_config
from rain_vtuber.sources import SourceConfig


def _source(kind: str | None, flags: dict[str, Any], base: SourceConfig) -> dict[str, Any] | None:
    """--source and its flags -> the source mapping over the configured one, None if unchanged."""
    if kind is None and not flags:
        return None
    # a different kind starts from scratch: the configured options belong to the configured kind
    source = base.model_dump(exclude_unset=True) | {"kind": base.kind} if kind in (None, base.kind) else {"kind": kind}
    return {**source, **flags}


def daemon(
    config: Annotated[Optional[Path], typer.Option("--config", help="Daemon YAML config (keys: see the README).")] = None,
    weights: WeightsOpt = None,
    engine_config: EngineConfigOpt = None,
    character: Annotated[Optional[str], typer.Option("--character", help="Character to start with.")] = None,
    characters_dir: Annotated[
        Optional[Path],
        typer.Option("--characters-dir", help="Only this characters folder (default: ./characters, yours, the package's)."),
    ] = None,
    calibration_dir: Annotated[
        Optional[Path],
        typer.Option("--calibration-dir", help="Only this calibrations folder (default: ./calibration, yours, the package's)."),
    ] = None,
    source: SourceKindOpt = None,
    camera: CameraOpt = None,
    source_path: SourcePathOpt = None,
    source_port: SourcePortOpt = None,
    phone_host: PhoneHostOpt = None,
    source_opt: SourceOptOpt = None,
    face_model: FaceModelOpt = None,
    output_size: Annotated[Optional[int], typer.Option("--output-size", help="Size of every output in pixels (square).")] = None,
    resolution: Annotated[Optional[int], typer.Option("--resolution", hidden=True, help="Deprecated: --output-size.")] = None,
    model_size: Annotated[
        Optional[int], typer.Option("--model-size", help="Size RAIN runs at (a multiple of 64; default the release's 512).")
    ] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="auto, fp16, bf16 or fp32.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda, cuda:1, ...")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="auto, tensorrt, torch-compile or torch.")] = None,
    latency: LatencyOpt = None,
    ndi_name: Annotated[Optional[str], typer.Option("--ndi-name", help="NDI source name.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Output fps (default: what the engine sustains).")] = None,
    control_port: Annotated[Optional[int], typer.Option("--control-port", help="OSC control port.")] = None,
    control_host: Annotated[
        Optional[str],
        typer.Option("--control-host", help="Address the control port binds (LAN address for OBS on another PC; needs --token)."),
    ] = None,
    token: Annotated[Optional[str], typer.Option("--token", help="Require this token on control messages.")] = None,
    log_file: Annotated[Optional[Path], typer.Option("--log-file", help="Rotating log file.")] = None,
    audio: AudioOpt = None,
) -> None:
    """Run the live stream: face source -> RAIN -> NDI (stop with Ctrl-C or `rain-vtuber ctl shutdown`).

    \b
    Examples:
      rain-vtuber daemon
      rain-vtuber daemon --character alice --source vmc --source-port 39540
      rain-vtuber daemon --source ifacialmocap --phone-host 192.168.1.23
      rain-vtuber daemon --source webcam --camera 1 --source-opt crop_ratio=0.8
      rain-vtuber daemon --config stream.yaml --fps 24
      rain-vtuber daemon --control-host 192.168.1.10 --token s3cret   # OBS on another PC
      rain-vtuber daemon --latency low
    """
    base = load_config(config)
    cfg = base.with_overrides(
        weights=weights, engine_config=engine_config, character=character, characters_dir=characters_dir,
        calibration_dir=calibration_dir,
        source=_source(source, source_flags(camera, source_path, source_port, phone_host, source_opt, face_model), base.source),
        output_size=output_size, resolution=resolution, model_size=model_size, dtype=dtype, device=device, backend=backend, latency=latency, ndi_name=ndi_name, fps=fps,
        control_port=control_port, control_host=control_host, token=token, log_file=log_file,
        audio=None if audio is None else audio_flag(audio, base.audio).model_dump(exclude_unset=True),
    )
    lifecycle.exit_process(lifecycle.run(cfg))
