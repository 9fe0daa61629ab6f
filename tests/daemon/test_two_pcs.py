"""Two PCs on one machine: the daemon in one network namespace, OBS's side in another.

The "gpu" namespace runs `rain-vtuber daemon` (tiny weights, CPU, VMC source) with its control
port on the veth address and a token; the "obs" namespace sends VMC face packets, receives NDI
and controls the daemon, all by the other side's veth address. The kernel's byte counters on the
veth show the video really crossed the link.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from netns import TwoPcs, two_pcs_or_skip
from rain_vtuber.daemon.control import send_command
from rain_vtuber.daemon.lan import lan_addresses
from rain_vtuber.daemon.soak import make_demo_characters
from rain_vtuber.errors import RainError
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e  # network namespaces and a daemon subprocess

REPO = Path(__file__).resolve().parents[2]
TINY = REPO.parent / "shared" / "golden" / "tiny"
TOKEN = "lan-s3cret"
FPS = 10.0
CONTROL_PORT, VMC_PORT = 9050, 39539  # the defaults: each namespace has its own ports
BOOT_S = 120.0


def _python(*argv: str) -> list[str]:
    return [sys.executable, *argv]


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{Path(__file__).parent}",
            "RAIN_VTUBER_HOME": str(root / "home")}


@pytest.fixture(scope="module")
def lan() -> Iterator[TwoPcs]:
    pcs = two_pcs_or_skip()
    yield pcs
    pcs.close()


@pytest.fixture(scope="module")
def daemon_config(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    root = tmp_path_factory.mktemp("gpu-pc")
    characters, calibration = make_demo_characters(root, {"alice": (240, 240, 240), "bob": (30, 160, 90)})
    config = root / "daemon.yaml"
    config.write_text(yaml.safe_dump({
        "weights": str(TINY / "weights"), "engine_config": str(TINY / "config.yaml"),
        "characters_dir": str(characters), "calibration_dir": str(calibration), "character": "alice",
        "source": {"kind": "vmc", "port": VMC_PORT, "lost_after_s": 0.5},
        "resolution": 128, "device": "cpu", "dtype": "fp32", "fps": FPS,
        "ndi_name": f"rain-lan-{uuid.uuid4().hex[:6]}", "control_port": CONTROL_PORT,
        "log_file": str(root / "daemon.log"),
    }))
    return config


def test_doctor_lists_the_address_the_other_pc_uses(lan: TwoPcs) -> None:
    found = lan.gpu.call(lan_addresses)
    assert lan.gpu.address in found and lan.obs.address not in found


def _ctl(lan: TwoPcs, root: Path, *args: str) -> subprocess.CompletedProcess:
    """`rain-vtuber ctl ... --host <gpu veth address>` run on the OBS side."""
    argv = _python("-m", "rain_vtuber.cli.main", "ctl", *args, "--host", lan.gpu.address, "--timeout", "5")
    return subprocess.run(lan.obs.command(*argv), env=_env(root), capture_output=True, text=True, timeout=60)


def test_daemon_on_the_lan_without_a_token_refuses_to_start(lan: TwoPcs, daemon_config: Path) -> None:
    argv = _python("-m", "rain_vtuber.cli.main", "daemon", "--config", str(daemon_config),
                   "--control-host", lan.gpu.address)
    done = subprocess.run(lan.gpu.command(*argv), env=_env(daemon_config.parent), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: control host {lan.gpu.address} is reachable from other machines, so the control port needs "
        "a token: add `token: <secret>` to the daemon config or pass --token <secret> (the OBS script and "
        "`rain-vtuber ctl --token` then send the same)"
    ], done.stderr
    assert "Traceback" not in done.stderr
    print(f"\nrefusal: {errors[0]}")


@pytest.fixture(scope="module")
def daemon(lan: TwoPcs, daemon_config: Path) -> Iterator[subprocess.Popen]:
    argv = _python("-m", "rain_vtuber.cli.main", "daemon", "--config", str(daemon_config),
                   "--control-host", lan.gpu.address, "--token", TOKEN)
    out = daemon_config.parent / "daemon.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(lan.gpu.command(*argv), env=_env(daemon_config.parent), stdout=sink,
                                stderr=subprocess.STDOUT)
    yield proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(out.read_text(errors="replace")[-3000:])


def _send(lan: TwoPcs, address: str, *args: Any, token: str | None = TOKEN) -> tuple[str, str]:
    """One control command from the OBS side to the GPU side's veth address."""
    return lan.obs.call(lambda: send_command(address, *args, host=lan.gpu.address, port=CONTROL_PORT, token=token))


def _wait_status(lan: TwoPcs, proc: subprocess.Popen, ready: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Ask /rain/status across the link until `ready(status)`; fail if the daemon dies or BOOT_S pass."""

    def answered() -> bool:
        state, text = _send(lan, "/rain/status")
        return state == "ok" and ready(json.loads(text))

    wait_until(answered, BOOT_S, poll_s=0.5, what=what, alive=proc, ignore=RainError)  # RainError: not listening yet


def test_control_across_the_link_needs_the_token(lan: TwoPcs, daemon: subprocess.Popen, daemon_config: Path) -> None:
    _wait_status(lan, daemon, lambda s: s["characters"]["bob"]["state"] == "ready", "bob fused (asked across the link)")
    ok = _ctl(lan, daemon_config.parent, "character", "bob", "--token", TOKEN)  # the CLI, as a user types it
    assert (ok.returncode, ok.stdout.strip()) == (0, "character bob"), ok.stderr
    refused = _ctl(lan, daemon_config.parent, "character", "alice", "--token", "guess")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    message = "missing or wrong token: pass the daemon's token as the first argument"
    assert refused.stderr.strip() == f"error: {message}"
    assert _send(lan, "/rain/character", "alice", token=None) == ("error", message)
    assert _send(lan, "/rain/character", "alice", token="Lan-s3cret") == ("error", message)
    state, text = _send(lan, "/rain/status")
    assert state == "ok" and json.loads(text)["character"] == "bob"
    print(f"\nrefused (no token / wrong token): {refused.stderr.strip()}")


def test_vmc_in_and_ndi_out_across_the_link(lan: TwoPcs, daemon: subprocess.Popen, daemon_config: Path) -> None:
    root = daemon_config.parent
    _wait_status(lan, daemon, lambda s: True, "a status reply across the link")
    name = yaml.safe_load(daemon_config.read_text())["ndi_name"]
    before = lan.obs.rx_bytes()
    argv = _python(str(Path(__file__).with_name("peer.py")), "--daemon", lan.gpu.address, "--vmc-port", str(VMC_PORT),
                   "--control-port", str(CONTROL_PORT), "--token", TOKEN, "--ndi-name", name, "--seconds", "4")
    done = subprocess.run(lan.obs.command(*argv), env=_env(root), capture_output=True, text=True, timeout=BOOT_S + 60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    received = lan.obs.rx_bytes() - before
    assert result["url"].startswith(f"{lan.gpu.address}:"), result
    assert result["frames"] >= 0.6 * FPS * result["seconds"], result
    assert result["shapes"] == [[128, 128, 4]]
    assert result["status"]["source"]["state"] == "tracking" and result["status"]["ndi"]["connections"] >= 1
    assert received >= result["frames"] * 1000, f"only {received} bytes crossed the veth for {result['frames']} frames"
    print(f"\nNDI '{result['source']}' at {result['url']}: {result['frames']} frames in {result['seconds']:g} s "
          f"across the veth ({received} bytes received there), {result['vmc_sent']} VMC bundles sent; daemon "
          f"state {result['status']['state']}, engine fps {result['status'].get('engine_fps')}")
