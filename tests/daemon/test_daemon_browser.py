"""End to end: `rain-vtuber daemon` (a subprocess, CPU, tiny weights) with a browser and an NDI output, Chromium
on the page, a real NDI receiver. One daemon serves the tests of this module in order; the last restarts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import yaml

from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.control import send_command
from rain_vtuber.daemon.soak import VmcSender, free_udp_port, make_demo_characters
from rain_vtuber.outputs.browser_viewer import IN_FLIGHT
from rain_vtuber.outputs.ndi_receiver import NdiProbe
from rain_vtuber.outputs.stage import to_output_rgba
from tests.browser_viewers import (assert_shows, free_tcp_port, launch, missing_chromium, screenshot_rgba,
                                   shown_frame, stalled_viewer)
from tests.conftest import REPO, TINY_CONFIG, TINY_WEIGHTS, requires

pytestmark = requires(missing_chromium())

FPS = 5.0  # fixed output rate: paced whatever the (slow, shared) CPU sustains
SIZE = 512  # the default output size: 1 MiB per frame, more than a hung viewer's socket takes
KEY_TOLERANCE = 24
BOOT_S = 150.0  # load + fuse + fill the pile on a busy 2-core machine


class Daemon:
    """The daemon subprocess: ports, config, start and stop, status over the control port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.control_port, self.vmc_port, self.browser_port = free_udp_port(), free_udp_port(), free_tcp_port()
        self.ndi_name = f"rain-browser-{uuid.uuid4().hex[:8]}"
        characters, calibration = make_demo_characters(root, {"alice": (240, 240, 240)})
        registry = CharacterRegistry(characters, calibration, "alice")
        # what the output stage shows at start: the reference picture at the output size, background keyed out
        self.picture = to_output_rgba(registry.current.image, SIZE, SIZE, registry.current.background, KEY_TOLERANCE)
        registry.close()
        self.config = root / "daemon.yaml"
        self.config.write_text(yaml.safe_dump({
            "weights": str(TINY_WEIGHTS), "engine_config": str(TINY_CONFIG), "characters_dir": str(characters),
            "calibration_dir": str(calibration), "character": "alice", "device": "cpu", "dtype": "fp32",
            "source": {"kind": "vmc", "host": "127.0.0.1", "port": self.vmc_port, "lost_after_s": 0.5},
            "output_size": SIZE, "fps": FPS, "background_key": "reference", "key_tolerance": KEY_TOLERANCE,
            "outputs": [{"kind": "ndi", "ndi_name": self.ndi_name}, {"kind": "browser", "port": self.browser_port}],
            "control_port": self.control_port, "log_file": None, "state_file": str(root / "state.json"),
        }))
        self.url = f"http://127.0.0.1:{self.browser_port}/"
        self.log = root / "daemon.out"
        self.proc = self.spawn()

    def spawn(self) -> subprocess.Popen:
        env = {**os.environ, "RAIN_VTUBER_HOME": str(self.root / "home"), "PYTHONPATH": str(REPO)}
        with open(self.log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "rain_vtuber.cli.main", "daemon", "--config", str(self.config)],
                                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

    def status(self) -> dict[str, Any]:
        state, text = send_command("/rain/status", port=self.control_port, timeout=3.0)
        assert state == "ok", text
        return json.loads(text)

    def browser(self) -> dict[str, Any]:
        return self.status()["outputs"]["browser"]

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited with {self.proc.returncode} while waiting for {what}:\n{self.tail()}")
            try:
                value = predicate()
            except Exception:  # not up yet: no reply on the control port
                value = None
            if value:
                return value
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}:\n{self.tail()}")

    def shutdown(self) -> float:
        """Stop it over the control port; seconds until the process was gone."""
        began = time.monotonic()
        send_command("/rain/shutdown", port=self.control_port, timeout=3.0)
        self.proc.wait(timeout=15)
        return time.monotonic() - began

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("browser-daemon"))
    try:
        d.wait(lambda: d.browser()["state"] == "running", 60, "the browser output")
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture(scope="module")
def page(browser: Any, daemon: Daemon) -> Iterator[Any]:
    """OBS's view: the output's page in a viewport of the output size, for the whole module."""
    page = browser.new_page(viewport={"width": SIZE, "height": SIZE})
    page.goto(daemon.url)
    yield page
    page.close()


def _showing_the_picture(daemon: Daemon, page: Any) -> np.ndarray:
    """What the page shows while the daemon has sent no engine frame yet (its start picture)."""
    page.wait_for_function("document.getElementById('stream').dataset.sequence !== undefined", timeout=30_000)
    _, shown = shown_frame(page)
    assert daemon.status()["latency_ms_p50"] is None, "the engine's frames came before the picture was read"
    return shown


def test_at_start_the_page_shows_the_reference_picture(daemon: Daemon, page: Any) -> None:
    assert_shows(_showing_the_picture(daemon, page), daemon.picture)


def test_the_keyed_background_is_transparent_on_the_page(daemon: Daemon, page: Any) -> None:
    shot = screenshot_rgba(page)  # no page background: what OBS composites over the scene
    assert daemon.status()["latency_ms_p50"] is None
    background = daemon.picture[..., 3] == 0
    assert 0.3 < background.mean() < 0.9  # the demo character's flat background, keyed out
    assert (shot[..., 3][background] == 0).all()
    assert_shows(shot, daemon.picture)


def test_ndi_keeps_its_rate_while_a_browser_viewer_is_stalled(daemon: Daemon, page: Any) -> None:
    sender = VmcSender(daemon.vmc_port).start()
    hung = None
    try:
        daemon.wait(lambda: daemon.status()["latency_ms_p50"] is not None, BOOT_S, "the engine's first frame")
        hung = stalled_viewer(daemon.browser_port)
        daemon.wait(lambda: daemon.browser()["viewers"] == 2, 10, "the hung viewer")
        probe = NdiProbe(daemon.ndi_name, timeout=30)
        try:
            before = daemon.browser()
            frames = probe.capture(6.0)
        finally:
            probe.close()
        after = daemon.browser()
        times = [t for t, _, _ in frames]
        assert len(frames) >= 0.7 * FPS * 6 and max(np.diff(times)) <= 2 / FPS, "NDI slowed down"
        stalled = min(after["per_viewer"], key=lambda viewer: viewer["painted"])
        assert stalled["painted"] == 0 and stalled["sent"] <= IN_FLIGHT
        assert after["frames_painted"] > before["frames_painted"]  # the page kept painting new frames
        assert daemon.status()["outputs"]["ndi"]["state"] == "running"
    finally:
        sender.stop()
        if hung is not None:
            hung.close()


def test_the_page_reconnects_after_a_daemon_restart(daemon: Daemon, page: Any) -> None:
    assert daemon.shutdown() < 5.0
    page.wait_for_function("document.body.dataset.connected === '0'", timeout=5_000)
    last, shown = shown_frame(page)
    assert last is not None and shown[..., 3].any()
    time.sleep(1.5)  # the page retries meanwhile
    still, kept = shown_frame(page)
    assert still == last and np.array_equal(kept, shown)  # the last frame stays
    daemon.proc = daemon.spawn()
    daemon.wait(lambda: daemon.browser()["frames_painted"] >= 1, 60, "the page to reconnect")
    assert_shows(_showing_the_picture(daemon, page), daemon.picture)  # no reload: the new daemon's picture

