"""The browser output with real viewers: Debian's Chromium (Playwright) on its page, raw WebSocket clients.

Every output here runs behind an OutputRunner, as the daemon runs it.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, OutputFrame
from rain_vtuber.outputs.browser import BrowserOutput, BrowserSettings
from rain_vtuber.outputs.browser_viewer import IN_FLIGHT, SentFrame, Viewer
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.utils.ports import free_port
from tests.browser_viewers import (assert_shows, canvas_rgba, launch, missing_chromium,
                                   painted_sequence, screenshot_rgba, stalled_viewer, wait_painted)
from tests.conftest import requires
from tests.waiting import wait_until

WIDTH, HEIGHT = 160, 120
needs_chromium = requires(missing_chromium())


def picture(sequence: int, width: int = WIDTH, height: int = HEIGHT) -> OutputFrame:
    """Random colours (every value 0..255 occurs), a keyed-out (alpha 0) border 10 px wide."""
    rng = np.random.default_rng(sequence)
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[..., 3] = 0
    rgba[10:-10, 10:-10, 3] = 255
    return OutputFrame(rgba, captured_ns=None, sequence=sequence)


@contextmanager
def serving(settings: BrowserSettings, width: int = WIDTH, height: int = HEIGHT) -> Iterator[OutputRunner]:
    """The output behind its runner, open; closed (and timed: the daemon allows 2 s) at the end."""
    runner = OutputRunner(BrowserOutput(settings, width, height, FrameRate(30)), "browser")
    runner.start()
    wait_until(lambda: runner.state != "starting", 5.0)
    assert runner.state == "running", runner.error
    try:
        yield runner
    finally:
        began = time.monotonic()
        runner.close(timeout=2.0)
        assert time.monotonic() - began < 2.0


def open_viewer(browser: Any, url: str, width: int = WIDTH, height: int = HEIGHT) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.errors = errors
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture
def settings() -> BrowserSettings:
    return BrowserSettings(port=free_port("tcp"))


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_frames_arrive_exact_and_keyed_pixels_are_transparent(browser: Any, settings: BrowserSettings) -> None:
    with serving(settings) as runner:
        page = open_viewer(browser, runner.output.url)
        for sequence in (1, 2, 3):
            frame = picture(sequence)
            runner.offer(frame)
            wait_painted(page, sequence)
            assert_shows(canvas_rgba(page), frame.rgba)
        assert_shows(screenshot_rgba(page), frame.rgba)  # what OBS composites: transparent where keyed
        runner.offer(OutputFrame(frame.rgba, None, 3, repeat=True))  # nothing new: not sent again
        wait_until(lambda: runner.frames_written == 4, 2.0)
        time.sleep(0.2)
        status = runner.status()
        assert status["url"] == f"http://127.0.0.1:{settings.port}/" and status["viewers"] == 1
        assert status["frames_sent"] == 3 and status["frames_painted"] == 3 and status["viewer_drops"] == 0
        latency = status["paint_latency_ms"]
        assert latency["frames"] == 3 and 0 < latency["p50"] <= latency["p95"] < 1000
        assert page.errors == []


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_two_viewers_at_once_and_a_new_viewer_gets_the_last_frame(browser: Any, settings: BrowserSettings) -> None:
    with serving(settings) as runner:
        obs, preview = (open_viewer(browser, runner.output.url) for _ in range(2))
        wait_until(lambda: runner.status()["viewers"] == 2, 5.0)
        frame = picture(7)
        runner.offer(frame)
        for page in (obs, preview):
            wait_painted(page, 7)
            assert_shows(canvas_rgba(page), frame.rgba)
        wait_until(lambda: [v["painted"] for v in runner.status()["per_viewer"]] == [1, 1], 2.0)
        obs.close()
        preview.close()
        wait_until(lambda: runner.status()["viewers"] == 0, 5.0)
        assert runner.state == "running" and runner.error is None  # nobody watching is not an error
        late = open_viewer(browser, runner.output.url)
        wait_painted(late, 7)  # the last frame, with nothing new written
        assert_shows(canvas_rgba(late), frame.rgba)
        assert runner.status()["frames_sent"] == 3
        late.close()


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_the_page_keeps_the_last_frame_and_reconnects_after_a_restart(browser: Any, settings: BrowserSettings) -> None:
    with serving(settings) as runner:
        page = open_viewer(browser, runner.output.url)
        runner.offer(picture(1))
        wait_painted(page, 1)
    page.wait_for_function("document.body.dataset.connected === '0'", timeout=5_000)
    time.sleep(0.5)
    assert_shows(canvas_rgba(page), picture(1).rgba)  # the daemon is gone: the last frame stays
    with serving(settings) as restarted:
        restarted.offer(picture(2))
        wait_painted(page, 2)  # no reload: the page found the new daemon by itself
        assert_shows(canvas_rgba(page), picture(2).rgba)
        assert page.errors == []


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_a_token_is_checked_before_any_frame_is_sent(browser: Any) -> None:
    settings = BrowserSettings(port=free_port("tcp"), token="let-me-in")
    with serving(settings) as runner:
        runner.offer(picture(1))
        base = runner.output.url
        refused = [open_viewer(browser, base), open_viewer(browser, base + "?token=let-me-out")]
        welcome = open_viewer(browser, base + "?token=let-me-in")
        wait_painted(welcome, 1)
        wait_until(lambda: runner.status()["refused"] >= 2, 5.0)
        for page in refused:
            assert painted_sequence(page) is None
        status = runner.status()
        assert status["token_required"] and status["viewers"] == 1 and status["frames_sent"] == 1
        ws_url = f"ws://127.0.0.1:{settings.port}/ws"
        with pytest.raises(InvalidStatus, match="403"):
            connect(ws_url)
        with connect(ws_url + "?token=let-me-in") as program:  # no Origin: a program, admitted by its token
            assert program.recv(timeout=5)[8:] == picture(1).rgba.tobytes()


@pytest.mark.parametrize("origin, admitted", [
    ("http://127.0.0.1:{port}", True), ("http://localhost:{port}", True), (None, True),
    ("http://127.0.0.1:{other}", False), ("http://localhost:{port}.example.com", False), ("null", False),
    ("https://evil.example", False),
])
def test_only_the_pages_own_origin_may_open_the_socket(settings: BrowserSettings, origin: str | None,
                                                        admitted: bool) -> None:
    origin = origin and origin.format(port=settings.port, other=settings.port + 1)
    with serving(settings) as runner:
        runner.offer(picture(1))
        url = f"ws://127.0.0.1:{settings.port}/ws"
        if admitted:
            with connect(url, origin=origin) as client:
                assert client.recv(timeout=5)[8:] == picture(1).rgba.tobytes()
        else:
            with pytest.raises(InvalidStatus, match="403"):
                connect(url, origin=origin)
            assert runner.status()["refused"] == 1


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_a_page_from_another_local_port_cannot_read_the_stream(browser: Any, settings: BrowserSettings,
                                                               tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>some other local page</title>")
    foreign = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    read_stream = """(url) => new Promise((resolve) => {
        const socket = new WebSocket(url);
        const seen = {opened: false, frames: 0};
        socket.onopen = () => { seen.opened = true; };
        socket.onmessage = () => { seen.frames += 1; };
        socket.onclose = () => resolve(seen);
        setTimeout(() => resolve(seen), 3000);
    })"""
    try:
        with serving(settings) as runner:
            runner.offer(picture(1))
            ws_url = f"ws://127.0.0.1:{settings.port}/ws"
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{foreign.server_address[1]}/")
            assert page.evaluate(read_stream, ws_url) == {"opened": False, "frames": 0}
            assert runner.status()["refused"] == 1
            page.goto(runner.output.url)  # the same script from the output's own page does read it
            assert page.evaluate(read_stream, ws_url) == {"opened": True, "frames": 1}
            page.close()
    finally:
        foreign.shutdown()
        foreign.server_close()


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_a_stalled_viewer_slows_neither_another_viewer_nor_the_writer(browser: Any, settings: BrowserSettings) -> None:
    size, frames, period = 512, 90, 1 / 30
    with serving(settings, size, size) as runner:
        page = open_viewer(browser, runner.output.url, size, size)
        page.wait_for_function("document.body.dataset.connected === '1'", timeout=5_000)
        stalled = stalled_viewer(settings.port)
        try:
            wait_until(lambda: runner.status()["viewers"] == 2, 5.0)
            pictures = [picture(sequence, size, size) for sequence in range(1, frames + 1)]
            write, write_s = runner.output.write, []

            def timed_write(frame: OutputFrame) -> None:
                began = time.perf_counter()
                write(frame)
                write_s.append(time.perf_counter() - began)

            runner.output.write = timed_write  # type: ignore[method-assign]
            for frame in pictures:
                runner.offer(frame)
                time.sleep(period)
            wait_painted(page, frames)
            assert_shows(canvas_rgba(page), pictures[-1].rgba)
            written = runner.frames_written  # (the runner's slot drops one when this box stalls its thread)
            assert written + runner.dropped == frames and written >= 0.9 * frames
            assert np.median(write_s) < 0.005  # write() hands over; it never waits for a viewer

            def viewers() -> list[dict[str, Any]]:  # the page first (it painted), the hung client second
                return sorted(runner.status()["per_viewer"], key=lambda viewer: viewer["painted"], reverse=True)

            wait_until(lambda: viewers()[0]["painted"] + viewers()[0]["dropped"] == written, 2.0)  # all answered
            watching, hung = viewers()
            assert watching["painted"] >= 0.5 * written, watching  # (a send that waited on the hung one: 1 or 2)
            # the hung client: a window's worth sent, the newest waiting in its slot, everything else dropped
            assert hung["painted"] == 0 and hung["sent"] <= IN_FLIGHT
            assert hung["sent"] + hung["dropped"] == written - 1, hung
        finally:
            began = time.monotonic()
            runner.close(timeout=2.0)  # the hung viewer is still connected
            assert time.monotonic() - began < 2.0
            stalled.close()


def test_a_viewer_stuck_in_the_middle_of_a_frame_holds_up_neither_writes_nor_close(
        settings: BrowserSettings, caplog: pytest.LogCaptureFixture) -> None:
    """A 2048x2048 frame (16 MiB) is more than the socket buffers hold: its send to a hung client never ends."""
    size = 2048
    with serving(settings, size, size) as runner:
        stalled = stalled_viewer(settings.port)
        try:
            wait_until(lambda: runner.status()["viewers"] == 1, 5.0)
            runner.offer(picture(1, size, size))
            wait_until(lambda: runner.frames_written == 1, 5.0)
            time.sleep(0.5)
            began = time.perf_counter()
            runner.output.write(picture(2, size, size))  # straight from this thread: returns at once
            assert time.perf_counter() - began < 0.2
            runner.offer(picture(3, size, size))
            wait_until(lambda: runner.frames_written == 2, 5.0)
            time.sleep(0.2)
            (hung,) = runner.status()["per_viewer"]
            assert hung == {"peer": hung["peer"], "sent": 0, "painted": 0, "dropped": 1}  # 1 in the socket, 3 waits
        finally:
            began = time.monotonic()
            runner.close(timeout=2.0)
            assert time.monotonic() - began < 2.0
            stalled.close()
    assert [r.message for r in caplog.records if r.levelno >= logging.WARNING] == []  # closed, not given up on


def test_a_frame_offered_twice_is_sent_once_and_not_counted_as_dropped() -> None:
    """A viewer connecting while a frame is published gets it as the newest at connect and from the publishing."""
    viewer, frame = Viewer("127.0.0.1:1"), SentFrame(1, 0, b"")
    viewer.offer(frame)
    viewer.offer(frame)
    assert viewer.next_to_send() is frame
    viewer.offer(frame)
    assert viewer.next_to_send() is None and viewer.dropped == 0
    newer = SentFrame(2, 0, b"")
    viewer.offer(newer)
    assert viewer.next_to_send() is newer and viewer.painted_frame(2) is newer and viewer.dropped == 1  # 1 skipped


def test_a_port_in_use_is_one_line_that_names_it(settings: BrowserSettings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", settings.port))
        squatter.listen()
        with pytest.raises(RainError) as failure:
            BrowserOutput(settings, WIDTH, HEIGHT, FrameRate(30)).open()
        message = str(failure.value)
        assert f"127.0.0.1:{settings.port} is in use" in message and "port:" in message and "\n" not in message
        runner = OutputRunner(BrowserOutput(settings, WIDTH, HEIGHT, FrameRate(30)), "browser")
        runner.start()
        wait_until(lambda: runner.state == "error", 5.0)
        assert runner.error == message
        runner.close()


def test_another_host_needs_a_token() -> None:
    runner = OutputRunner(BrowserOutput(BrowserSettings(host="0.0.0.0", port=free_port("tcp")), WIDTH, HEIGHT,
                                        FrameRate(30)), "browser")
    runner.start()
    wait_until(lambda: runner.state != "starting", 5.0)
    assert runner.state == "unavailable" and "needs a token: add `token: <secret>`" in runner.error
    runner.close()


@pytest.mark.e2e  # Chromium on the output's page
@needs_chromium
def test_every_address_of_this_pc_serves_its_own_page_with_the_token(browser: Any) -> None:
    """host 0.0.0.0: the page's origin is the address the viewer used (here 127.0.0.2, as a LAN address would)."""
    settings = BrowserSettings(host="0.0.0.0", port=free_port("tcp"), token="lan-secret")
    with serving(settings) as runner:
        runner.offer(picture(1))
        page = open_viewer(browser, f"http://127.0.0.2:{settings.port}/?token=lan-secret")
        wait_painted(page, 1)
        assert_shows(canvas_rgba(page), picture(1).rgba)
        with pytest.raises(InvalidStatus, match="403"):  # that address's page, but another site's origin
            connect(f"ws://127.0.0.2:{settings.port}/ws?token=lan-secret", origin="http://evil.example")
        page.close()
