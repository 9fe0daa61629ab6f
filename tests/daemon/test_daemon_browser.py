"""End to end: `rain-vtuber daemon` (a subprocess, CPU, tiny weights) with a browser and an NDI output, Chromium
on the page, a real NDI receiver. One daemon serves the tests of this module in order; the last restarts it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.soak import VmcSender
from rain_vtuber.outputs.browser_viewer import IN_FLIGHT
from rain_vtuber.outputs.ndi_receiver import NdiProbe
from rain_vtuber.outputs.stage import to_output_rgba
from rain_vtuber.utils.ports import free_port
from tests.browser_viewers import assert_shows, launch, missing_chromium, screenshot_rgba, shown_frame, stalled_viewer
from tests.conftest import requires
from tests.daemon.daemon_process import BOOT_S, DaemonProcess

pytestmark = [requires(missing_chromium()), pytest.mark.e2e]

FPS = 5.0  # fixed output rate: paced whatever the (slow, shared) CPU sustains
SIZE = 512  # the default output size: 1 MiB per frame, more than a hung viewer's socket takes
KEY_TOLERANCE = 24


class BrowserDaemon(DaemonProcess):
    """The daemon with an NDI and a browser output at SIZE, the reference background keyed out, and the
    picture its output stage shows at start (the reference at the output size, background keyed out)."""

    def __init__(self, root: Path) -> None:
        self.browser_port = free_port("tcp")
        self.url = f"http://127.0.0.1:{self.browser_port}/"
        super().__init__(root, "browser", {"alice": (240, 240, 240)}, [{"kind": "browser", "port": self.browser_port}],
                         output_size=SIZE, fps=FPS, background_key="reference", key_tolerance=KEY_TOLERANCE, log_file=None)
        registry = CharacterRegistry(self.characters, self.calibration, "alice")
        self.picture = to_output_rgba(registry.current.image, SIZE, SIZE, registry.current.background, KEY_TOLERANCE)
        registry.close()

    def browser(self) -> dict[str, Any]:
        return self.status()["outputs"]["browser"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserDaemon]:
    with BrowserDaemon(tmp_path_factory.mktemp("browser-daemon")) as d:
        d.wait(lambda: d.browser()["state"] == "running", 60, "the browser output")
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture(scope="module")
def page(browser: Any, daemon: BrowserDaemon) -> Iterator[Any]:
    """OBS's view: the output's page in a viewport of the output size, for the whole module."""
    page = browser.new_page(viewport={"width": SIZE, "height": SIZE})
    page.goto(daemon.url)
    yield page
    page.close()


def _showing_the_picture(daemon: BrowserDaemon, page: Any) -> np.ndarray:
    """What the page shows while the daemon has sent no engine frame yet (its start picture)."""
    page.wait_for_function("document.getElementById('stream').dataset.sequence !== undefined", timeout=30_000)
    _, shown = shown_frame(page)
    assert daemon.status()["latency_ms_p50"] is None, "the engine's frames came before the picture was read"
    return shown


def test_at_start_the_page_shows_the_reference_picture(daemon: BrowserDaemon, page: Any) -> None:
    assert_shows(_showing_the_picture(daemon, page), daemon.picture)


def test_the_keyed_background_is_transparent_on_the_page(daemon: BrowserDaemon, page: Any) -> None:
    shot = screenshot_rgba(page)  # no page background: what OBS composites over the scene
    assert daemon.status()["latency_ms_p50"] is None
    background = daemon.picture[..., 3] == 0
    assert 0.3 < background.mean() < 0.9  # the demo character's flat background, keyed out
    assert (shot[..., 3][background] == 0).all()
    assert_shows(shot, daemon.picture)


def test_ndi_keeps_its_rate_while_a_browser_viewer_is_stalled(daemon: BrowserDaemon, page: Any) -> None:
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


def test_the_page_reconnects_after_a_daemon_restart(daemon: BrowserDaemon, page: Any) -> None:
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

