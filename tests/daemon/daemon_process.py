"""`rain-vtuber daemon` as a subprocess for the end-to-end tests: its config file, the process, its
control port and its output, on CPU with the tiny weights and demo characters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

import yaml

from rain_vtuber.daemon.control import send_command
from rain_vtuber.daemon.soak import make_demo_characters
from rain_vtuber.utils.ports import free_port
from tests.conftest import REPO, TINY_CONFIG, TINY_WEIGHTS
from tests.waiting import wait_until

T = TypeVar("T")
D = TypeVar("D", bound="DaemonProcess")
BOOT_S = 150.0  # load + fuse + fill the pile on a busy 2-core machine


class DaemonProcess:
    """The config of a daemon on `root`: demo `characters` (name -> background RGB, the first one
    current), a VMC source and the control port on free ports, an NDI output named `self.ndi_name`
    (`name` in it) and `more_outputs`, `settings` on top (fps, output size, ...).

    Entering it as a context manager starts the daemon (`self.proc`); leaving kills the process if it
    still runs and prints the end of its output.
    """

    def __init__(self, root: Path, name: str, characters: dict[str, tuple[int, int, int]],
                 more_outputs: Sequence[dict[str, Any]] = (), **settings: Any) -> None:
        self.root = root
        self.control_port, self.vmc_port = free_port(), free_port()
        self.ndi_name = f"rain-{name}-{uuid.uuid4().hex[:8]}"
        self.characters, self.calibration = make_demo_characters(root, characters)
        self.config = root / "daemon.yaml"
        self.config.write_text(yaml.safe_dump({
            "weights": str(TINY_WEIGHTS), "engine_config": str(TINY_CONFIG), "characters_dir": str(self.characters),
            "calibration_dir": str(self.calibration), "character": next(iter(characters)), "device": "cpu",
            "dtype": "fp32", "source": {"kind": "vmc", "host": "127.0.0.1", "port": self.vmc_port, "lost_after_s": 0.5},
            "outputs": [{"kind": "ndi", "ndi_name": self.ndi_name}, *more_outputs], "control_port": self.control_port,
            "state_file": str(root / "state.json"), **settings,
        }))
        self.env = {**os.environ, "RAIN_VTUBER_HOME": str(root / "home"), "PYTHONPATH": str(REPO)}
        self.log = root / "daemon.out"
        self.proc: Optional[subprocess.Popen] = None

    def spawn(self, log: Optional[Path] = None, *extra: str) -> subprocess.Popen:
        """Another `rain-vtuber daemon` on this config, its output appended to `log` (default: self.log)."""
        with open(log or self.log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "rain_vtuber.cli.main", "daemon", "--config", str(self.config), *extra],
                cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )

    def ctl(self, address: str, *args: Any) -> tuple[str, str]:
        return send_command(address, *args, port=self.control_port, timeout=3.0)

    def status(self) -> dict[str, Any]:
        state, text = self.ctl("/rain/status")
        assert state == "ok", text
        return json.loads(text)

    def wait(self, condition: Callable[[], T], timeout: float, what: str,
             proc: Optional[subprocess.Popen] = None) -> T:
        """wait_until `condition` is truthy while `proc` (default: this daemon) runs; any exception from
        it means not up yet (no reply on the control port). A failure shows the daemon's output."""
        return wait_until(condition, timeout, poll_s=0.25, alive=proc or self.proc, ignore=Exception,
                          what=lambda: f"{what}; the daemon's output ends:\n{self.tail()}")

    def shutdown(self) -> float:
        """Stop it over the control port; seconds until the process was gone."""
        began = time.monotonic()
        self.ctl("/rain/shutdown")
        self.proc.wait(timeout=15)
        return time.monotonic() - began

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def __enter__(self: D) -> D:
        self.proc = self.spawn()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        print(self.tail())
