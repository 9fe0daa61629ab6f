"""`rain-vtuber doctor` checks on real files, ports and the NDI runtime."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rain_vtuber.cli.doctor import check_ndi, check_port, check_weights
from rain_vtuber.paths import cache_home, default_log_file

REPO = Path(__file__).resolve().parents[2]
TINY = REPO.parent / "shared" / "golden" / "tiny"


def test_weights_check_passes_on_a_good_release_and_names_what_is_wrong(tmp_path: Path) -> None:
    good = check_weights(TINY / "weights", TINY / "config.yaml")
    assert good.status == "pass" and "128x128" in good.detail
    assert check_weights(tmp_path / "missing", None).status == "fail"
    broken = tmp_path / "weights"
    shutil.copytree(TINY / "weights", broken)
    state = torch.load(broken / "pose_guider.pth", weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    state.pop(next(iter(state)))
    torch.save(state, broken / "pose_guider.pth")
    result = check_weights(broken, TINY / "config.yaml")
    assert result.status == "fail" and "pose_guider.pth" in result.detail
    assert "missing keys (1)" in result.detail and "unexpected keys (1): extra.weight" in result.detail
    assert "weights download" in result.fix


def test_ndi_and_port_checks() -> None:
    assert check_ndi().status == "pass"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        busy = check_port("control", "127.0.0.1", port)
        assert busy.status == "fail" and "in use" in busy.detail and busy.fix
    assert check_port("control", "127.0.0.1", port).status == "pass"


@pytest.mark.e2e  # `rain-vtuber doctor` as a subprocess: weights, NDI, camera and ports for real
def test_cli_prints_the_table_and_fails_on_a_failed_check(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "rain_vtuber.cli.main", "doctor", "--weights", str(TINY / "weights"),
             "--engine-config", str(TINY / "config.yaml"), "--camera", "-1", "--control-port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
        )
    assert run.returncode == 1, run.stderr
    rows = {line.split("│")[1].strip(): line for line in run.stderr.splitlines() if line.count("│") >= 4}
    assert "PASS" in rows["weights"] and "PASS" in rows["NDI runtime"] and "PASS" in rows["Python"]
    assert "audio inputs" in rows  # PASS with the devices, or WARN with the fix (no PortAudio, no device)
    assert "FAIL" in rows[f"control port {port}/udp"] and "camera 0" not in rows
    folders = {cells[1].strip(): cells[2].strip() for cells in (line.split("│") for line in run.stderr.splitlines())
               if len(cells) == 4}  # the two-column table of the folders in use
    assert folders["downloads and caches"] == str(cache_home()) and folders["daemon log"] == str(default_log_file())
    from rain_vtuber.daemon.lan import lan_addresses

    here = lan_addresses()
    assert all(address in rows["LAN address"] for address in here)
    if here:  # what to type on the other devices, with this PC's address and the configured control port
        assert f"VMC sender on another PC: send to {here[0]} port 39539" in run.stderr
        assert f"--control-host {here[0]} --token <secret>" in run.stderr
    assert "ports to allow in this PC's firewall" in run.stderr
    assert re.search(rf"│\s*{port}\s*│\s*UDP\s*│\s*control from OBS", run.stderr)
    assert re.search(r"│\s*5961\+\s*│\s*TCP\s*│\s*NDI video", run.stderr)
