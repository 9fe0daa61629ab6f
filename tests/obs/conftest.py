"""Fixtures for the OBS script tests: a free control port and the fake daemon as an executable."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Iterator

import pytest

from obs_runner import HeadlessObs
from rain_vtuber.utils.ports import free_port

FAKE_DAEMON = Path(__file__).with_name("fake_daemon.py")
OBS_SCRIPTS = Path(__file__).resolve().parents[2] / "obs_scripts"
if str(OBS_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(OBS_SCRIPTS))


@pytest.fixture
def port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    return free_port()


@pytest.fixture
def fake_daemon_exe(tmp_path: Path) -> Path:
    """tests/obs/fake_daemon.py behind a `rain-vtuber`-like executable (not named python*)."""
    exe = tmp_path / "fake-rain-vtuber"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_DAEMON}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.fixture
def headless_obs(tmp_path: Path) -> Iterator[HeadlessObs]:
    """Xvfb + real OBS for one test; every process it caused is ended afterwards."""
    run = HeadlessObs(tmp_path)
    try:
        yield run
    finally:
        run.close()
