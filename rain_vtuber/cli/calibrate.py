"""`rain-vtuber calibrate`: create a character from an image and tune it in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rain_vtuber.audio import AudioSettings
from rain_vtuber.calibrate import CalibrateRequest, PreviewOptions, character_files, serve, write_without_ui
from rain_vtuber.cli.common import (
    AudioOpt,
    CameraOpt,
    EngineConfigOpt,
    FaceModelOpt,
    OldEngineConfigOpt,
    PhoneHostOpt,
    SourceKindOpt,
    SourceOptOpt,
    SourcePathOpt,
    SourcePortOpt,
    WeightsOpt,
    console,
    engine_config_flag,
    source_flags,
)
from rain_vtuber.errors import RainError
from rain_vtuber.sources import SourceConfig, source_config

def _source_config(kind: str | None, flags: dict[str, Any]) -> SourceConfig | None:
    """--source and its flags -> SourceConfig; recorded faces loop in real time so the dots stay live."""
    if kind is None:
        if flags:
            raise RainError("source flags need --source KIND (webcam, video, folder, image, screen, ifacialmocap, vmc)")
        return None
    replay = {"loop": True, "realtime": True} if kind in ("video", "folder", "image") else {}
    return source_config({"kind": kind, **replay, **flags})


def _face_box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values) or values[2] <= values[0] or values[3] <= values[1]:
        raise RainError(f"--face-box expects LEFT,TOP,RIGHT,BOTTOM fractions of the image (0..1), got '{text}'")
    return values  # type: ignore[return-value]


def calibrate(
    name: Annotated[str, typer.Argument(help="Character name (folder characters/NAME, file calibration/NAME.yaml).")],
    image: Annotated[
        Optional[Path], typer.Option("--image", help="Reference image to create the character from (copied).")
    ] = None,
    source: SourceKindOpt = None,
    camera: CameraOpt = None,
    source_path: SourcePathOpt = None,
    source_port: SourcePortOpt = None,
    phone_host: PhoneHostOpt = None,
    source_opt: SourceOptOpt = None,
    face_model: FaceModelOpt = None,
    audio: AudioOpt = None,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Only write the files (defaults + framing flags).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing character of that name.")] = False,
    port: Annotated[int, typer.Option("--port", help="Port of the page on 127.0.0.1 (0: a free one).")] = 0,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the URL but do not open a browser.")] = False,
    root: Annotated[
        Optional[Path],
        typer.Option("--root", help="Folder holding characters/ and calibration/ (default: where the daemon looks)."),
    ] = None,
    center_x: Annotated[Optional[float], typer.Option("--center-x", help="Framing: face centre x (0..1).")] = None,
    center_y: Annotated[Optional[float], typer.Option("--center-y", help="Framing: face centre y (0..1).")] = None,
    scale: Annotated[Optional[float], typer.Option("--scale", help="Framing: face size (0.1..4).")] = None,
    face_box: Annotated[
        Optional[str],
        typer.Option("--face-box", help="Solve the framing for this face box: LEFT,TOP,RIGHT,BOTTOM in 0..1."),
    ] = None,
    countdown: Annotated[float, typer.Option("--countdown", help="Seconds before each recording.")] = 3.0,
    weights: WeightsOpt = None,
    engine_config: EngineConfigOpt = None,
    config: OldEngineConfigOpt = None,
    device: Annotated[str, typer.Option("--device", help="Device of the live preview.")] = "cuda",
    dtype: Annotated[str, typer.Option("--dtype", help="Precision of the live preview.")] = "fp16",
) -> None:
    """Create a character from an image and calibrate it in a local web page (127.0.0.1 only).

    \b
    Examples:
      rain-vtuber calibrate alice --image alice.png --source webcam
      rain-vtuber calibrate alice --source webcam      # reopen alice to adjust her
      rain-vtuber calibrate bob --image bob.png --source vmc --source-port 39540
      rain-vtuber calibrate alice --source webcam --audio USB
      rain-vtuber calibrate carol --image carol.jpg --no-ui --face-box 0.3,0.2,0.7,0.65
    """
    framing = {"framing.center_x": center_x, "framing.center_y": center_y, "framing.scale": scale}
    if port < 0 or port > 65535:
        raise RainError(f"--port must be 0..65535, got {port}")
    request = CalibrateRequest(
        files=character_files(root, name),
        image=image,
        force=force,
        values={k: v for k, v in framing.items() if v is not None},
        face_box=_face_box(face_box),
        source=_source_config(source, source_flags(camera, source_path, source_port, phone_host, source_opt, face_model)),
        port=port,
        countdown_s=max(0.0, countdown),
        preview=PreviewOptions(weights, engine_config_flag(engine_config, config), device, dtype),
        audio=None if audio is None else AudioSettings.from_flag(audio, loop=True),  # a file loops: the meter stays live
    )
    if no_ui:
        path = write_without_ui(request)
        console.print(f"created {request.files.folder} and {path}" if image else f"updated {path}", soft_wrap=True)
        return
    serve(request, open_browser=not no_browser, announce=lambda text: console.print(text, soft_wrap=True))
