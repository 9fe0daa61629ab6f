"""`rain-vtuber doctor`: check everything a stream needs and say how to fix what is missing."""

from __future__ import annotations

import importlib
import importlib.metadata
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Literal

import typer
from rich.markup import escape
from rich.table import Table

from rain_vtuber.cli.common import (
    EngineConfigOpt,
    FaceModelOpt,
    OldEngineConfigOpt,
    WeightsOpt,
    console,
    engine_config_flag,
)
from rain_vtuber.daemon.control import DEFAULT_CONTROL_PORT
from rain_vtuber.errors import RainError
from rain_vtuber.sources import IFACIALMOCAP_PORT, VMC_PORT
from rain_vtuber.outputs.spout import ON_WINDOWS

Status = Literal["pass", "warn", "fail"]
PACKAGES = {  # import name -> distribution name
    "torch": "torch", "diffusers": "diffusers", "transformers": "transformers", "numpy": "numpy",
    "cv2": "opencv-contrib-python", "mediapipe": "mediapipe",
    "pythonosc": "python-osc", "pydantic": "pydantic", "yaml": "pyyaml",
}
PORTS = {"control": ("127.0.0.1", DEFAULT_CONTROL_PORT), "VMC": ("0.0.0.0", VMC_PORT),
         "iFacialMocap": ("0.0.0.0", IFACIALMOCAP_PORT)}
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "diffusion_pytorch_model.safetensors",
                   "diffusion_pytorch_model.bin")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("Python", "pass" if ok else "fail", version, "" if ok else "install Python 3.10 or newer")


def check_packages() -> Check:
    found, broken = [], []
    for module, dist in PACKAGES.items():
        try:
            importlib.import_module(module)
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except Exception as err:  # a broken wheel raises more than ImportError
            broken.append(f"{dist} ({type(err).__name__}: {err})")
    if broken:
        return Check("packages", "fail", "; ".join(broken), "pip install -U rain-vtuber (reinstalls the listed packages)")
    return Check("packages", "pass", ", ".join(found))


def check_face_tracker(face_model: Path | None, weights: Path | None = None) -> Check:
    """mediapipe's version and whether the FaceLandmarker model file is there (webcam/video sources)."""
    from rain_vtuber.sources.face_model import FETCH_COMMAND, default_face_model

    version = importlib.metadata.version("mediapipe")
    model = face_model or default_face_model(weights)
    if not model.is_file():
        return Check("face tracker", "warn", f"mediapipe {version}; face model {model} missing",
                     f"webcam/video/image sources need it: run `{FETCH_COMMAND}` or pass --face-model PATH")
    return Check("face tracker", "pass", f"mediapipe {version}; face model {model} ({model.stat().st_size} bytes)")


def check_gpu() -> Check:
    import torch

    if not torch.cuda.is_available():
        return Check("CUDA GPU", "warn", f"torch {torch.__version__}: no CUDA device",
                     "RAIN needs an NVIDIA GPU for live rates: install the CUDA build of torch "
                     "(https://pytorch.org/get-started/locally/) and a current NVIDIA driver")
    free, total = torch.cuda.mem_get_info()
    name = torch.cuda.get_device_name()
    status: Status = "pass" if free >= 6 * 2**30 else "warn"
    return Check("CUDA GPU", status, f"{name}: {free / 2**30:.1f} of {total / 2**30:.1f} GiB free",
                 "" if status == "pass" else "close other GPU programs: RAIN needs about 6 GiB free")


def check_tensorrt() -> Check:
    try:
        trt = importlib.import_module("tensorrt")
    except Exception as err:
        return Check("TensorRT", "warn", f"not importable ({type(err).__name__})",
                     "optional speed-up: pip install 'rain-vtuber[tensorrt]'")
    return Check("TensorRT", "pass", f"tensorrt {trt.__version__}")


def check_weights(weights: Path | None, config: Path | None) -> Check:
    """The release files exist and every checkpoint's keys and shapes fit the configured model."""
    from rain_vtuber.model.checkpoints import key_problems, read_checkpoint
    from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig
    from rain_vtuber.model.release import RainModels
    from rain_vtuber.weights import default_weights_dir

    weights = Path(weights or default_weights_dir())
    fix = "run `rain-vtuber weights download` or pass --weights DIR with the RAIN release files"
    if not weights.is_dir():
        return Check("weights", "fail", f"{weights} not found", fix)
    try:
        if config is None:
            config = weights / "config.yaml" if (weights / "config.yaml").is_file() else PACKAGED_CONFIG
        cfg = RainConfig.load(Path(config), weights)
        models = RainModels.build(cfg)
        problems = []
        for name in ("reference_unet", "motion_unet", "pose_guider", "taesdv"):
            own = {k: tuple(v.shape) for k, v in getattr(models, name).state_dict().items()}
            found = {k: tuple(v.shape) for k, v in read_checkpoint(cfg.files[name]).items()}
            problems += [f"{cfg.files[name].name}: {p}" for p in key_problems(own, found)]
        for name in ("vae", "image_encoder"):
            folder = cfg.files[name]
            if not (folder / "config.json").is_file() or not any((folder / f).is_file() for f in HF_WEIGHT_FILES):
                problems.append(f"{folder.name}/ lacks config.json or its weights file")
    except RainError as err:
        return Check("weights", "fail", str(err), fix)
    if problems:
        return Check("weights", "fail", "; ".join(problems), fix + " (the files there do not match the config)")
    return Check("weights", "pass", f"{weights} ({cfg.width}x{cfg.height}, strict key check ok)")


def check_camera(index: int) -> Check:
    import cv2

    cv2.setLogLevel(0)  # silent: the table says what failed
    cap = cv2.VideoCapture(index)
    try:
        ok = cap.isOpened() and cap.read()[0]
    finally:
        cap.release()
    if not ok:
        return Check(f"camera {index}", "fail", "cannot open or read a frame",
                     "plug in the webcam, close apps using it (Zoom, OBS virtual camera), or use "
                     "--source vmc / ifacialmocap instead")
    return Check(f"camera {index}", "pass", "opened and read one frame")


def check_audio_inputs() -> Check:
    """The microphones PortAudio sees (audio.input / --audio pick one by name or index)."""
    from rain_vtuber.audio import input_devices

    try:
        found = input_devices()
    except RainError as err:
        detail, _, fix = str(err).partition(": ")
        return Check("audio inputs", "warn", detail, f"only microphone lip sync needs it: {fix}")
    if not found:
        return Check("audio inputs", "warn", "PortAudio sees no input device",
                     "plug in a microphone (on Linux: is PulseAudio or PipeWire running?), or lip sync from a sound file")
    return Check("audio inputs", "pass", "; ".join(device.describe() for device in found))


def check_ndi() -> Check:
    """A warning where NDI cannot run on this system at all (OutputUnavailable: another output can stream),
    a failure where it should run but breaks."""
    from rain_vtuber.outputs.base import FrameRate, OutputUnavailable
    from rain_vtuber.outputs.ndi import NdiOutput, NdiSettings

    output = NdiOutput(NdiSettings(ndi_name="rain-vtuber doctor"), 16, 16, FrameRate(30))
    try:
        output.open()
        name = output.source_name()
    except OutputUnavailable as err:
        return Check("NDI runtime", "warn", str(err))
    except Exception as err:
        return Check("NDI runtime", "fail", str(err),
                     "reinstall ndi-python (pip install --force-reinstall ndi-python); on Linux install avahi-daemon")
    finally:
        output.close()
    return Check("NDI runtime", "pass",
                 f"ndi-python {importlib.metadata.version('ndi-python')}: created and destroyed source {name}")


def check_spout() -> Check:
    """Windows: SpoutGL makes its OpenGL context and sends one frame, as the spout output does."""
    import numpy as np

    from rain_vtuber.outputs.base import FrameRate, OutputFrame, OutputUnavailable
    from rain_vtuber.outputs.spout import SpoutOutput, SpoutSettings

    output = SpoutOutput(SpoutSettings(sender_name="rain-vtuber doctor"), 16, 16, FrameRate(30))
    try:
        output.open()
        output.write(OutputFrame(np.zeros((16, 16, 4), np.uint8), captured_ns=None, sequence=0))
    except OutputUnavailable as err:
        return Check("Spout2", "warn", str(err), 'optional, for the spout output: pip install "rain-vtuber[spout]"')
    except Exception as err:
        return Check("Spout2", "fail", str(err), "update the graphics driver; Spout2 needs OpenGL and DirectX 11")
    finally:
        output.close()
    return Check("Spout2", "pass", f"sent one 16x16 RGBA frame as sender '{output.settings.sender_name}'")


def check_port(label: str, host: str, port: int) -> Check:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            return Check(f"{label} port {port}/udp", "fail", f"in use ({err.strerror})",
                         "another program (or a running daemon: `rain-vtuber ctl ping`) holds it; "
                         "stop it or configure another port")
    return Check(f"{label} port {port}/udp", "pass", "free")


def check_lan() -> Check:
    from rain_vtuber.daemon.lan import lan_addresses

    found = lan_addresses()
    if not found:
        return Check("LAN address", "warn", "only loopback", "connect this PC to your network to use a phone or a second PC")
    return Check("LAN address", "pass", ", ".join(found))


def print_folders() -> None:
    """The per-user folders in use and the character lookup order (they differ per OS)."""
    from rain_vtuber.paths import folders_in_use

    table = Table(title="folders")
    for column in ("for", "folder"):
        table.add_column(column, overflow="fold")
    for what, where in folders_in_use():
        table.add_row(escape(what), escape(where))
    console.print(table)


def print_lan_guide(addresses: list[str], control_port: int) -> None:
    """What to type on the phone / the other PC, and which ports this PC's firewall must let in."""
    from rain_vtuber.daemon.lan import PORTS

    here = addresses[0] if addresses else "<this PC's address>"
    console.print(
        f"\n[bold]Phone or second PC[/bold] (this PC: {escape(', '.join(addresses) or 'no LAN address')})\n"
        f"  iFacialMocap on the iPhone: destination IP {here}, then `--source ifacialmocap --phone-host <phone IP>`\n"
        f"  VMC sender on another PC: send to {here} port {VMC_PORT}\n"
        f"  OBS on another PC: run `rain-vtuber daemon --control-host {here} --token <secret>` here; in the OBS\n"
        f"    script set Daemon PC = {here}, Control port = {control_port} and the same token; add an NDI source\n"
        f"    (DistroAV); if it is not listed, add {here} as an extra IP in NDI Access Manager / DistroAV",
        soft_wrap=True,
    )
    table = Table(title="ports to allow in this PC's firewall")
    for column in ("port", "protocol", "for"):
        table.add_column(column)
    for port in PORTS:
        table.add_row(str(control_port) if port.number == str(DEFAULT_CONTROL_PORT) else port.number, port.protocol, port.who)
    console.print(table)


def doctor(
    weights: WeightsOpt = None,
    engine_config: EngineConfigOpt = None,
    config: OldEngineConfigOpt = None,
    camera: Annotated[int, typer.Option("--camera", help="Webcam index to test; -1 skips the camera.")] = 0,
    control_port: Annotated[int, typer.Option("--control-port", help="Daemon control port to test.")] = DEFAULT_CONTROL_PORT,
    lan_guide: Annotated[
        bool, typer.Option("--lan/--no-lan", help="Print what a phone / second PC should use and the ports to open.")
    ] = True,
    face_model: FaceModelOpt = None,
) -> None:
    """Check Python, packages, face tracker, GPU, TensorRT, weights, camera, audio inputs, NDI, Spout2 (Windows) and
    ports; exit 1 if anything fails.

    Also lists the folders in use (caches, log, state, where characters are looked up).
    """
    ports = dict(PORTS, control=("127.0.0.1", control_port))
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("Python", check_python), ("packages", check_packages), ("face tracker", lambda: check_face_tracker(face_model, weights)),
        ("CUDA GPU", check_gpu),
        ("TensorRT", check_tensorrt), ("weights", lambda: check_weights(weights, engine_config_flag(engine_config, config))),
        *([(f"camera {camera}", lambda: check_camera(camera))] if camera >= 0 else []),
        ("audio inputs", check_audio_inputs), ("NDI runtime", check_ndi), *([("Spout2", check_spout)] if ON_WINDOWS else []),
        ("LAN address", check_lan),
        *[(f"{label} port", lambda label=label, addr=addr: check_port(label, *addr)) for label, addr in ports.items()],
    ]
    table = Table(title="rain-vtuber doctor")
    for column in ("check", "result", "detail", "fix"):
        table.add_column(column, overflow="fold")
    style = {"pass": "[green]PASS[/green]", "warn": "[yellow]WARN[/yellow]", "fail": "[red]FAIL[/red]"}
    failed = 0
    for label, run in checks:
        try:
            result = run()
        except Exception as err:  # a check that crashes is a failed check, not a crashed doctor
            result = Check(label, "fail", f"{type(err).__name__}: {err}", "run with --debug and report it")
        failed += result.status == "fail"
        table.add_row(escape(result.name), style[result.status], escape(result.detail), escape(result.fix))
    console.print(table)
    print_folders()
    if lan_guide:
        from rain_vtuber.daemon.lan import lan_addresses

        print_lan_guide(lan_addresses(), control_port)
    if failed:
        raise typer.Exit(1)
