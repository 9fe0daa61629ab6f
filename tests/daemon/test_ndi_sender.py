"""NdiSender against a real NDI receiver on loopback."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from rain_vtuber.outputs.ndi import NdiSender, background_colour, frame_rate, timecode


def _pump(sender: NdiSender, rgb: np.ndarray | None, stop: threading.Event) -> threading.Thread:
    """Send (or resend) at the sender's fps until stop."""

    def loop() -> None:
        while not stop.wait(1 / sender.fps):
            if rgb is None:
                sender.resend()
            else:
                sender.send(rgb)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def _scene() -> np.ndarray:
    """64x96 RGB: flat green background with a red square in the middle."""
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:] = (0, 200, 0)
    rgb[16:48, 32:64] = (220, 30, 30)
    return rgb


@pytest.mark.parametrize("key", [False, True])
def test_frames_arrive_with_size_rate_and_alpha(ndi_probe, key: bool) -> None:
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    rgb = _scene()
    stop = threading.Event()
    with NdiSender(name, width=96, height=64, fps=20) as sender:
        sender.set_key(background_colour(rgb) if key else None)
        sender.send(rgb)
        thread = _pump(sender, rgb, stop)
        try:
            frames = ndi_probe(name).capture(1.5)
        finally:
            stop.set()
            thread.join()
    assert len(frames) >= 10
    _, bgra, rate = frames[-1]
    assert bgra.shape == (64, 96, 4) and rate == (20, 1)
    centre, corner = bgra[32, 48], bgra[2, 2]
    assert abs(int(centre[2]) - 220) < 12 and abs(int(centre[1]) - 30) < 12  # red, as BGRA
    assert centre[3] == 255
    assert corner[3] == (0 if key else 255)


def test_resend_repeats_last_frame_and_close_removes_source(ndi_probe) -> None:
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    sender = NdiSender(name, width=32, height=32, fps=25, pixel_format="bgrx")
    assert not sender.resend()  # nothing to repeat yet
    sender.send(np.full((16, 16, 3), 90, np.uint8))  # resized to 32x32
    stop = threading.Event()
    thread = _pump(sender, None, stop)
    try:
        probe = ndi_probe(name)
        frames = probe.capture(1.0)
        assert len(frames) >= 10
        assert all(f.shape == (32, 32, 4) and abs(int(f[8, 8, 0]) - 90) < 8 for _, f, _ in frames)
        assert sender.connections() >= 1
    finally:
        stop.set()
        thread.join()
        sender.close()
    sender.close()  # idempotent
    assert probe.capture(0.8) == []


def test_background_colour() -> None:
    assert background_colour(_scene()) == (0, 200, 0)


@pytest.mark.parametrize(
    "fps, fraction",
    [(60, (60, 1)), (59.94, (60000, 1001)), (30, (30, 1)), (29.97, (30000, 1001)), (30000 / 1001, (30000, 1001)),
     (23.976, (24000, 1001)), (24, (24, 1)), (17, (17, 1)), (12.5, (25, 2)), (119.88, (120000, 1001))],
)
def test_frame_rate_is_the_nearest_rate_obs_offers(fps: float, fraction: tuple[int, int]) -> None:
    assert frame_rate(fps) == fraction


def test_timecode_is_the_capture_time_and_the_ntsc_rate_arrives(ndi_probe) -> None:
    """The receiver sees the capture time (UTC, 100 ns) as timecode, on repeats too, and 60000/1001."""
    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    with NdiSender(name, width=32, height=32, fps=59.94) as sender:
        assert sender.fps == 60000 / 1001
        probe = ndi_probe(name)
        stop = threading.Event()
        thread = _pump(sender, None, stop)  # repeats what send() last sent
        try:
            captured = time.monotonic_ns() - 250_000_000  # a face seen 250 ms ago
            expected = timecode(captured)
            sender.send(np.full((32, 32, 3), 90, np.uint8), captured)
            frames = [f for f in probe.capture_timecodes(1.0) if abs(f[1] - expected) < 10_000]  # within 1 ms
            sender.send(np.full((32, 32, 3), 90, np.uint8))  # no capture time: NDI stamps the send time
            synthesized = probe.capture_timecodes(0.5)
        finally:
            stop.set()
            thread.join()
    assert len(frames) >= 10, "the capture timecode did not arrive on the sent frame and its repeats"
    assert {rate for _, _, rate in frames} == {(60000, 1001)}
    first_arrival_ms = (frames[0][0] - expected * 100) / 1e6
    assert 250 <= first_arrival_ms < 400, first_arrival_ms
    now = time.time_ns() // 100
    assert synthesized and all(abs(now - tc) < 20_000_000 for _, tc, _ in synthesized[-5:])  # within 2 s of now


def test_frames_resume_when_the_receiver_goes_away_and_comes_back(ndi_probe) -> None:
    """OBS closes the NDI source and opens it again: the sender notices and the new receiver gets frames."""
    from tests.sources.source_helpers import wait_until

    name = f"rain-test-{uuid.uuid4().hex[:8]}"
    sender = NdiSender(name, width=32, height=32, fps=25, pixel_format="bgrx")
    sender.send(np.full((32, 32, 3), 60, np.uint8))
    stop = threading.Event()
    thread = _pump(sender, None, stop)
    try:
        first = ndi_probe(name)
        assert len(first.capture(1.0)) >= 10 and wait_until(lambda: sender.connections() >= 1, 10)
        first.close()
        assert wait_until(lambda: sender.connections() == 0, 10), "the sender still counts the closed receiver"
        sent = sender.frames_sent
        assert wait_until(lambda: sender.frames_sent > sent + 10, 5), "sending stopped with nobody watching"
        again = ndi_probe(name)
        frames = again.capture(1.0)
        assert len(frames) >= 10 and all(abs(int(f[8, 8, 0]) - 60) < 8 for _, f, _ in frames)
        assert sender.connections() >= 1
    finally:
        stop.set()
        thread.join()
        sender.close()
