"""SourceConfig, open_source, the FaceSource lifecycle and the webcam/screen sources on this machine."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError
from skimage import data

from rain_vtuber.face.state import FaceState, TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.utils.ratelimit import RateLimitedLog
from rain_vtuber.sources.ifacialmocap import IFacialMocapSource
from rain_vtuber.sources.screen import ScreenSource
from rain_vtuber.sources.vmc import VmcSource
from rain_vtuber.sources.webcam import WebcamSource
from tests.conftest import require
from tests.waiting import wait_until


def test_defaults_follow_the_spec() -> None:
    cfg = SourceConfig()
    assert cfg.kind == "webcam" and cfg.crop_ratio == 0.9 and cfg.frame_size == 512
    assert SourceConfig(kind="ifacialmocap").listen_port == 49983 and SourceConfig(kind="ifacialmocap").protocol == "v2"
    assert SourceConfig(kind="vmc").listen_port == 39539 and SourceConfig(kind="vmc", port=39540).listen_port == 39540


@pytest.mark.parametrize("bad", [
    {"kind": "kinect"}, {"crop_ratio": 0.0}, {"crop_ratio": 1.5}, {"port": 70000}, {"camera": -1},
    {"kind": "video"}, {"kind": "screen", "region": (0, 0, 0, 10)}, {"protocol": "v3"}, {"unknown_option": 1},
])
def test_invalid_configs_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        SourceConfig(**bad)


def test_open_source_builds_each_kind(tmp_path: Path) -> None:
    assert isinstance(open_source(SourceConfig(kind="webcam", camera=2)), WebcamSource)
    assert isinstance(open_source(SourceConfig(kind="screen", region=(0, 0, 64, 64))), ScreenSource)
    assert isinstance(open_source(SourceConfig(kind="ifacialmocap")), IFacialMocapSource)
    assert isinstance(open_source(SourceConfig(kind="vmc")), VmcSource)
    assert open_source(SourceConfig(kind="folder", path=tmp_path)).name == tmp_path.name


class _Scripted(FaceSource):
    """A source whose thread publishes `count` faces, then raises."""

    def __init__(self, count: int) -> None:
        super().__init__("scripted")
        self.count = count

    def _run(self) -> None:
        for _ in range(self.count):
            self._publish(FaceState(points=np.zeros((68, 2)), valid=np.ones(68, dtype=bool)))
        raise RuntimeError("boom")


def test_thread_errors_become_state_and_drops_are_counted() -> None:
    source = _Scripted(5)
    source.stop()  # before start: harmless
    source.start()
    wait_until(lambda: source.state is TrackingState.ERROR, 5)
    assert source.error == "RuntimeError: boom" and source.latest() is None
    assert source.counters.published == 5 and source.counters.dropped == 4 and source.counters.errors == 1
    source.stop()
    source.stop()
    assert not source.running
    source.start()  # restartable: a fresh run with a clean state
    wait_until(lambda: source.counters.published == 10 and source.state is TrackingState.ERROR, 5)
    source.stop()


def test_rate_limited_log_holds_back_and_reports(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="test.ratelimit")
    limited = RateLimitedLog(logging.getLogger("test.ratelimit"), interval_s=0.2)
    for _ in range(1000):
        limited.warning("same", "bad packet %d", 7)
    limited.warning("other", "different problem")
    assert [r.getMessage() for r in caplog.records] == ["bad packet 7", "different problem"]
    time.sleep(0.25)  # past the 0.2 s window
    limited.warning("same", "bad packet %d", 8)
    assert caplog.records[-1].getMessage() == "bad packet 8 (999 similar warnings suppressed)"


def test_missing_camera_reports_error_state() -> None:
    source = open_source(SourceConfig(kind="webcam", camera=97))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.ERROR, 10)
        assert "camera 97" in source.error and "--camera" in source.error
    finally:
        source.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 screen grabbing")
def test_screen_without_display_is_an_error_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    source = open_source(SourceConfig(kind="screen"))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.ERROR, 5)
        assert "screen capture failed" in source.error and "display" in source.error
    finally:
        source.stop()


@pytest.fixture
def xvfb(monkeypatch: pytest.MonkeyPatch):
    """A private virtual X display (DISPLAY set for the test); skips where Xvfb is not installed."""
    binary = shutil.which("Xvfb")
    require(None if binary else "Xvfb not installed (apt-get install xvfb; scripts/install-test-system-deps.sh)")
    number = next(n for n in range(90, 400) if not Path(f"/tmp/.X{n}-lock").exists()
                  and not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen([binary, f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 10, what=f"Xvfb :{number} to start")
        except AssertionError as err:
            require(str(err))
        monkeypatch.setenv("DISPLAY", f":{number}")
        yield
    finally:
        server.terminate()
        server.wait(10)


def test_screen_source_tracks_a_face_shown_on_screen(xvfb) -> None:
    cv2.namedWindow("face", cv2.WINDOW_AUTOSIZE)
    cv2.moveWindow("face", 0, 0)
    cv2.imshow("face", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    for _ in range(20):  # let the window paint
        cv2.waitKey(20)
    source = open_source(SourceConfig(kind="screen", region=(0, 0, 512, 512)))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.TRACKING, 20, what=lambda: f"tracking (source error: {source.error})")
        face = source.latest()
        assert face is not None and face.valid.all()
        assert source.latest_frame().shape == (512, 512, 3)
    finally:
        source.stop()
        cv2.destroyAllWindows()
