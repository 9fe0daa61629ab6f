"""Debian's Chromium driven by Playwright, for tests of the browser output's page: launch it, read what it shows.

Install: `apt-get install -y chromium` and `pip install playwright` (no Playwright browser download).
"""

from __future__ import annotations

import base64
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


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_painted(page: Any, sequence: int, timeout_ms: float = 10_000) -> None:
    """Wait until the page's canvas shows the frame with this sequence."""
    page.wait_for_function(f"document.getElementById('stream').dataset.sequence === '{sequence}'",
                           timeout=timeout_ms)


def painted_sequence(page: Any) -> Optional[int]:
    value = page.evaluate("document.getElementById('stream').dataset.sequence")
    return None if value is None else int(value)


def canvas_rgba(page: Any) -> np.ndarray:
    """The canvas pixels as the page reads them back: (H, W, 4) uint8 RGBA."""
    width, height, b64 = page.evaluate("""() => {
        const canvas = document.getElementById('stream');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let text = '';
        for (let i = 0; i < data.length; i += 8192) text += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
        return [canvas.width, canvas.height, btoa(text)];
    }""")
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(height, width, 4)


def screenshot_rgba(page: Any) -> np.ndarray:
    """A screenshot of the viewport with no page background (transparent where nothing is painted): RGBA."""
    png = page.screenshot(omit_background=True)
    bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert bgra.ndim == 3 and bgra.shape[2] == 4, f"screenshot without alpha: {bgra.shape}"
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
