"""Sources that lose their input and get it back by themselves.

A video or image folder whose files are deleted or cut short while it plays: an error state,
retries with backoff, tracking again once the files are back. A network sender (iFacialMocap app, VMC) that goes silent and comes back: LOST while silent, the
socket kept open, TRACKING again with the first packet (the real timeout, lost_after_s, shortened;
the silence three timeouts long instead of the 30 s a phone takes to wake). A port held by another
program: an error state, retries with backoff, listening once it is free.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.utils.ports import free_port
from tests.sources.source_helpers import send_until, write_face_video
from tests.waiting import never_within, wait_until

LOST_AFTER_S = 0.5


def _send(sock: socket.socket, kind: str, port: int, jaw: float) -> None:
    """One frame of a valid sender with the mouth open `jaw` (0..1)."""
    if kind == "vmc":
        value = OscMessageBuilder("/VMC/Ext/Blend/Val")
        value.add_arg("JawOpen")
        value.add_arg(jaw)
        datagrams = [value.build().dgram, OscMessageBuilder("/VMC/Ext/Blend/Apply").build().dgram]
    else:
        datagrams = [f"jawOpen-{round(jaw * 100)}|=head#0,0,0|".encode()]
    for datagram in datagrams:
        sock.sendto(datagram, ("127.0.0.1", port))


def _jaw_is(source: FaceSource, value: float) -> bool:
    face = source.latest()
    return face is not None and abs(face.expressions.get("jawOpen", -1) - value) < 1e-6


@pytest.mark.parametrize("kind", ["ifacialmocap", "vmc"])
def test_silent_sender_is_lost_then_recovers_by_itself(kind: str) -> None:
    port = free_port()
    source = open_source(SourceConfig(kind=kind, host="127.0.0.1", port=port, lost_after_s=LOST_AFTER_S))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        source.start()
        try:
            send_until(lambda: _send(sock, kind, port, 0.25), lambda: _jaw_is(source, 0.25), timeout=10)
            silent_from = time.monotonic()
            wait_until(lambda: source.state is TrackingState.LOST, 5)
            assert time.monotonic() - silent_from >= LOST_AFTER_S * 0.9
            assert source.latest() is None and source.error is None
            never_within(lambda: source.state is not TrackingState.LOST, 3 * LOST_AFTER_S)
            send_until(lambda: _send(sock, kind, port, 0.75), lambda: _jaw_is(source, 0.75), timeout=10)
            assert source.running and source.state is TrackingState.TRACKING
        finally:
            source.stop()


@pytest.mark.parametrize("kind", ["ifacialmocap", "vmc"])
def test_a_port_held_by_another_program_is_retried_until_free(kind: str) -> None:
    port = free_port()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", port))
    source = open_source(SourceConfig(kind=kind, host="127.0.0.1", port=port, lost_after_s=LOST_AFTER_S))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.ERROR, 5)
        assert f"127.0.0.1:{port}" in source.error
        wait_until(lambda: source.counters.retries >= 2, 10, what="a retry")
        squatter.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            send_until(lambda: _send(sock, kind, port, 0.5), lambda: _jaw_is(source, 0.5), timeout=15)
        assert source.running and source.error is None
    finally:
        squatter.close()
        source.stop()
    assert not source.running


class _Camera:
    """Stands in for cv2.VideoCapture (the OS camera boundary): delivers `image` while plugged in."""

    plugged = True
    opened = 0

    def __init__(self, index: int, image: np.ndarray) -> None:
        self.image = image
        type(self).opened += 1

    def isOpened(self) -> bool:  # noqa: N802 (cv2's name)
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1 / 120)  # a camera blocks for its next frame
        return (True, self.image.copy()) if self.plugged else (False, None)

    def release(self) -> None:
        pass


def test_a_webcam_whose_reads_fail_reports_it_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2
    from skimage import data

    from rain_vtuber.sources import webcam

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    monkeypatch.setattr(_Camera, "plugged", True)
    monkeypatch.setattr(webcam.cv2, "VideoCapture", lambda index: _Camera(index, face))
    source = open_source(SourceConfig(kind="webcam", camera=0))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.TRACKING, 60, what=lambda: f"tracking (source error: {source.error})")
        opened = _Camera.opened
        _Camera.plugged = False
        wait_until(lambda: source.state is TrackingState.ERROR, 10)
        assert "camera 0 stopped delivering frames" in source.error and source.latest() is None
        wait_until(lambda: _Camera.opened > opened, 10, what="the camera to be opened again")
        _Camera.plugged = True
        wait_until(lambda: source.state is TrackingState.TRACKING, 60, what=lambda: f"tracking (source error: {source.error})")
        assert source.error is None and source.counters.retries >= 1 and source.running
    finally:
        source.stop()


def _retried_until_back(source: FaceSource, message: str, restore: Callable[[], None]) -> None:
    """With its input gone: ERROR naming the cause, no face, retries; after `restore` TRACKING again by itself."""
    wait_until(lambda: source.state is TrackingState.ERROR, 15, what=lambda: f"the error state (state: {source.state})")
    assert message in source.error and source.latest() is None
    retries = source.counters.retries
    wait_until(lambda: source.counters.retries > retries, 10, what="another retry")
    restore()
    wait_until(lambda: source.state is TrackingState.TRACKING, 30, what=lambda: f"tracking (source error: {source.error})")
    assert source.error is None and source.running


@pytest.mark.e2e  # a video played in real time through two rounds of losing it and backing off
def test_a_video_deleted_then_truncated_while_playing_is_reported_and_reopened(tmp_path: Path) -> None:
    from skimage import data

    face, path = data.astronaut(), tmp_path / "face.mp4"
    write_face_video(path, face)
    source = open_source(SourceConfig(kind="video", path=path, loop=True, realtime=True))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.TRACKING, 60, what=lambda: f"tracking (source error: {source.error})")
        path.unlink()  # the open file would play on: the source must notice
        _retried_until_back(source, "is gone", lambda: write_face_video(path, face))
        with path.open("r+b") as video:
            video.truncate(1000)  # a header and no frames, as a copy that was cut short
        _retried_until_back(source, "changed while playing", lambda: write_face_video(path, face))
    finally:
        source.stop()
    assert not source.running


def test_an_image_folder_emptied_while_playing_is_reported_and_reread(tmp_path: Path) -> None:
    import cv2
    from skimage import data

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    source = open_source(SourceConfig(kind="folder", path=tmp_path, loop=True, realtime=True, fps=10))
    source.start()
    try:
        wait_until(lambda: source.state is TrackingState.TRACKING, 60, what=lambda: f"tracking (source error: {source.error})")
        moved = image.rename(tmp_path.parent / "face-away.png")
        _retried_until_back(source, "no images", lambda: moved.rename(image))
    finally:
        source.stop()
