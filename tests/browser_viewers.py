"""Viewers of the browser output for tests: Debian's Chromium driven by Playwright (launch it, read what the
page shows) and a raw WebSocket client that hangs.

Install: `apt-get install -y chromium` and `pip install playwright` (no Playwright browser download).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
from pathlib import Path
from typing import Any, Iterator, Optional

import cv2
import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox"]
try:
    from playwright import sync_api
except ImportError:
    sync_api = None


def missing_chromium() -> Optional[str]:
    """What is absent for these tests (for tests.conftest.requires), None when all is there."""
    if sync_api is None:
        return "pip install playwright (drives Debian's chromium)"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install -y chromium; scripts/install-test-system-deps.sh)"
    return None


def launch() -> Iterator[Any]:
    """A headless Chromium for as long as the generator runs (a pytest fixture body)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def wait_painted(page: Any, sequence: int, timeout_ms: float = 10_000) -> None:
    """Wait until the page's canvas shows the frame with this sequence."""
    page.wait_for_function(f"document.getElementById('stream').dataset.sequence === '{sequence}'",
                           timeout=timeout_ms)


def painted_sequence(page: Any) -> Optional[int]:
    value = page.evaluate("document.getElementById('stream').dataset.sequence")
    return None if value is None else int(value)


def shown_frame(page: Any) -> tuple[Optional[int], np.ndarray]:
    """The sequence of the frame on the canvas and its pixels as the page reads them back ((H, W, 4) uint8
    RGBA), read in one go: the page paints only between two such reads."""
    sequence, width, height, b64 = page.evaluate("""() => {
        const canvas = document.getElementById('stream');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let text = '';
        for (let i = 0; i < data.length; i += 8192) text += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
        return [canvas.dataset.sequence, canvas.width, canvas.height, btoa(text)];
    }""")
    rgba = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(height, width, 4)
    return (None if sequence is None else int(sequence)), rgba


def canvas_rgba(page: Any) -> np.ndarray:
    """The canvas pixels as the page reads them back: (H, W, 4) uint8 RGBA."""
    return shown_frame(page)[1]


def screenshot_rgba(page: Any) -> np.ndarray:
    """A screenshot of the viewport with no page background (transparent where nothing is painted): RGBA."""
    png = page.screenshot(omit_background=True)
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert bgra.ndim == 3 and bgra.shape[2] == 4, f"screenshot without alpha: {bgra.shape}"
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)


def assert_shows(shown: np.ndarray, expected: np.ndarray) -> None:
    """`shown` is the RGBA picture `expected`: alpha exact (0 where keyed, 255 elsewhere), the colours of every
    opaque pixel within 2 levels."""
    assert shown.shape == expected.shape
    assert np.array_equal(shown[..., 3], expected[..., 3])
    opaque = expected[..., 3] == 255
    difference = np.abs(shown[..., :3].astype(int) - expected[..., :3].astype(int))[opaque]
    assert difference.max() <= 2, f"colours off by up to {difference.max()} levels"


def stalled_viewer(port: int) -> socket.socket:
    """A WebSocket client of the output on `port` that completes the handshake and then never reads (a hung viewer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while not response.endswith(b"\r\n\r\n"):  # byte by byte: not one byte of a frame is read
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock
