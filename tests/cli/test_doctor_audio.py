"""`rain-vtuber doctor`'s audio row: the input devices PortAudio sees, or what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rain_vtuber.cli.doctor import check_audio_inputs
from tests.microphone import Pulse, pulse, pulse_server  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[2]


def test_lists_the_input_devices(pulse: Pulse) -> None:
    row = check_audio_inputs()
    assert row.status == "pass"
    assert "0 pulse (ALSA, 32 ch, 44100 Hz)" in row.detail and "default (ALSA" in row.detail


def test_missing_portaudio_is_a_warning_with_the_fix(tmp_path: Path) -> None:
    """sounddevice as it behaves without libportaudio2: its import raises OSError."""
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    run = subprocess.run(
        [sys.executable, "-c", "from rain_vtuber.cli.doctor import check_audio_inputs; r = check_audio_inputs(); "
                               "print(r.status); print(r.detail); print(r.fix)"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"},
        capture_output=True, text=True, timeout=120,
    )
    status, detail, fix = run.stdout.splitlines()
    assert status == "warn" and detail == "no microphone support (PortAudio library not found)"
    assert fix.startswith("only microphone lip sync needs it: install PortAudio: `apt-get install libportaudio2`")
