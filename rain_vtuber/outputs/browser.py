"""Browser output: the avatar as a local web page for OBS's own Browser Source (no plugin, transparent).

It serves http://HOST:PORT/ (one canvas at the output size on a transparent page) and the frames
over a WebSocket on the same port (`websockets`, on the output's own event loop thread). Frames go
raw: RGBA bytes, alpha 0 where the background was keyed out, so every pixel arrives exact and the
page has nothing to decode. write() only hands the frame to that loop; each viewer (OBS, a preview
tab) then gets the newest frame as soon as it has painted the one before (browser_viewer.py), so a
slow viewer skips frames instead of queueing them and never slows another viewer or the stream.
The page answers each frame it painted, which times the output stage -> painted canvas latency.

Who may watch: the port binds loopback unless `host` says otherwise, and a host other machines can
reach needs a `token`, which the page URL carries (`?token=...`) into the WebSocket handshake.
Browsers apply no same-origin rule to WebSockets, so without a check any web page the streamer
opens could read the stream from 127.0.0.1: the handshake must carry the Origin of this server's
own page. A handshake without an Origin is accepted (the token still applies): browsers always send
one, so it comes from a program, which could just as well send a forged Origin.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import hmac
import importlib.resources
import ipaddress
import json
import logging
import socket
import struct
import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any, Literal, Optional
from urllib.parse import parse_qs

import numpy as np
from pydantic import Field
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings, OutputUnavailable
from rain_vtuber.outputs.browser_viewer import SentFrame, Viewer
from rain_vtuber.utils.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

BROWSER_PORT = 9070  # TCP, the default: the page and its WebSocket
SOCKET_PATH = "/ws"
HEADER = struct.Struct("<IHH")  # sequence, width, height; then width*height*4 RGBA bytes
PAGE_FILES = {"/": ("index.html", "text/html"), "/index.html": ("index.html", "text/html"),
              "/viewer.js": ("viewer.js", "text/javascript")}
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
LATENCY_WINDOW = 600  # paint answers the latency percentiles are taken over (10 s at 60 fps)
CLOSE_TIMEOUT_S = 0.5  # a viewer that does not finish the closing handshake is cut off after this
STOP_BUDGET_S = 1.5  # close() returns within this (the daemon gives every output 2 s)
MAX_ANSWER_BYTES = 1024  # the page only ever sends {"painted": N}


class BrowserSettings(OutputSettings):
    """`outputs: [{kind: browser, port: 9070}]`: the page OBS's Browser Source shows."""

    kind: Literal["browser"] = "browser"
    host: str = Field("127.0.0.1", description="address the page is served on; 0.0.0.0 or a LAN address "
                                               "lets another PC's OBS in, and then needs a token")
    port: int = Field(BROWSER_PORT, ge=1, le=65535, description="TCP port of the page and its WebSocket")
    token: Optional[str] = Field(None, min_length=1, description="secret the page URL carries (?token=...); "
                                                                 "needed off loopback; default: the daemon's token")


def url_host(host: str) -> str:
    """A host as it goes into a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def reachable_from_other_machines(host: str) -> bool:
    """False when every address `host` names is loopback (only programs on this PC can connect)."""
    if host in WILDCARD_HOSTS:
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        raise RainError(f"browser output host '{host}' is not an address or a name this PC can resolve; "
                        "use 127.0.0.1, this PC's LAN address or 0.0.0.0") from None
    return not all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def _load_page() -> dict[str, tuple[bytes, str]]:
    folder = importlib.resources.files("rain_vtuber.outputs") / "browser_page"
    return {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in PAGE_FILES.items()}


class BrowserOutput(Output):
    """Serves the page and fans the newest frame out to every viewer; repeats are not sent (nothing new)."""

    settings_model = BrowserSettings
    settings: BrowserSettings

    def __init__(self, settings: BrowserSettings, width: int, height: int, rate: FrameRate) -> None:
        super().__init__(settings, width, height, rate)
        port = settings.port
        self._origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}",
                         f"http://{url_host(settings.host)}:{port}"}
        self._page = _load_page()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._latest: SentFrame | None = None  # what a viewer that connects gets first (kept across reopen)
        self._lock = threading.Lock()  # the viewer list, latencies and totals, read by status()
        self._viewers: dict[ServerConnection, Viewer] = {}
        self._latencies_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._gone = {"sent": 0, "painted": 0, "dropped": 0}  # counts of viewers that left
        self.refused = 0
        self._warn = RateLimitedLog(log)

    @property
    def url(self) -> str:
        """The page's address for OBS on this PC (a wildcard host is reached on 127.0.0.1)."""
        host = self.settings.host
        return f"http://{url_host('127.0.0.1' if host in WILDCARD_HOSTS else host)}:{self.settings.port}/"

    # -- the output's thread ------------------------------------------------------------

    def open(self) -> None:
        settings = self.settings
        if reachable_from_other_machines(settings.host) and not settings.token:  # retrying would not help
            raise OutputUnavailable(f"the browser output on {settings.host} is reachable from other machines, so it "
                                    "needs a token: add `token: <secret>` to its outputs entry or to the daemon config")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"rain-browser-{settings.port}", daemon=True)
        thread.start()
        try:
            server = asyncio.run_coroutine_threadsafe(self._listen(), loop).result()
        except OSError as err:
            _stop(loop, thread)
            raise self._bind_error(err) from None
        self._loop, self._thread, self._server = loop, thread, server
        log.info("browser output: %s", self.url)

    async def _listen(self) -> Server:
        """Bind the port and serve it (on the output's loop; open() waits for it, so a port in use fails there)."""
        return await serve(self._watch, self.settings.host, self.settings.port, process_request=self._route,
                           compression=None, max_size=MAX_ANSWER_BYTES, close_timeout=CLOSE_TIMEOUT_S)

    def _bind_error(self, err: OSError) -> RainError:
        where = f"{self.settings.host}:{self.settings.port}"
        if err.errno in (errno.EADDRINUSE, errno.EACCES) or getattr(err, "winerror", 0) in (10048, 10013):
            return RainError(f"browser output port {where} is in use by another program: "
                             f"set another `port:` in its outputs entry (e.g. {self.settings.port + 1})")
        return RainError(f"cannot serve the browser output on {where}: {err.strerror or err} "
                         "(host must be an address of this PC, or 0.0.0.0 for all)")

    def write(self, frame: OutputFrame) -> None:
        if frame.repeat and self._latest is not None:
            return
        offered_ns = time.monotonic_ns()
        message = bytearray(HEADER.size + frame.rgba.nbytes)
        HEADER.pack_into(message, 0, frame.sequence & 0xFFFFFFFF, frame.width, frame.height)
        np.copyto(np.frombuffer(message, np.uint8, offset=HEADER.size).reshape(frame.rgba.shape), frame.rgba)
        sent = SentFrame(frame.sequence & 0xFFFFFFFF, offered_ns, message)
        self._latest = sent
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._publish, sent)

    def close(self) -> None:
        """Close every viewer (their pages reconnect by themselves) and the port; within STOP_BUDGET_S."""
        loop, thread, server = self._loop, self._thread, self._server
        self._loop = self._thread = self._server = None
        if loop is None or thread is None or server is None:
            return

        async def stop() -> None:
            server.close()  # closing handshakes; a viewer that stopped reading never gets its close frame, so:
            try:
                await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S)
            except asyncio.TimeoutError:
                for connection in list(self._viewers):
                    connection.transport.abort()
                await server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=STOP_BUDGET_S)
        except concurrent.futures.TimeoutError:
            log.warning("browser output: viewers did not close within %.1f s", STOP_BUDGET_S)
        _stop(loop, thread)

    # -- the event loop's thread --------------------------------------------------------

    def _publish(self, frame: SentFrame) -> None:
        for viewer in self._viewers.values():
            viewer.offer(frame)

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        """The page's files, 404 for anything else, and the WebSocket only for its own page (and token)."""
        path, _, query = request.path.partition("?")
        if path in self._page:
            body, content_type = self._page[path]
            headers = Headers([("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(body))),
                               ("Cache-Control", "no-store"), ("Connection", "close")])
            return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, body)
        if path != SOCKET_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        refusal = self._refusal(request.headers.get("Origin"), request.headers.get("Host"), query)
        if refusal is None:
            return None
        self.refused += 1
        self._warn.warning(refusal, "browser output: refused a viewer from %s: %s", _peer(connection), refusal)
        return connection.respond(HTTPStatus.FORBIDDEN, refusal + "\n")

    def _refusal(self, origin: str | None, host_header: str | None, query: str) -> str | None:
        """Why a WebSocket handshake is refused, None when it may watch."""
        if origin is not None and origin not in self._origins:
            # a wildcard host serves its page under whatever address the viewer used (a token guards it)
            if not (self.settings.host in WILDCARD_HOSTS and host_header and origin == f"http://{host_header}"):
                return f"origin {origin} is not this output's own page"
        token = self.settings.token
        if token is not None:
            supplied = parse_qs(query).get("token", [""])[0]
            if not hmac.compare_digest(supplied.encode(), token.encode()):
                return "missing or wrong token (add ?token=<the daemon's token> to the page URL)"
        return None

    async def _watch(self, connection: ServerConnection) -> None:
        """One viewer: frames go out from a task of their own while this reads the page's paint answers."""
        viewer = Viewer(_peer(connection))
        with self._lock:
            self._viewers[connection] = viewer
        if self._latest is not None:
            viewer.offer(self._latest)
        sender = asyncio.create_task(self._send_frames(connection, viewer))
        try:
            async for answer in connection:
                self._painted(viewer, answer)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            with self._lock:
                del self._viewers[connection]
                for key, count in viewer.counts().items():
                    if key in self._gone:
                        self._gone[key] += count

    async def _send_frames(self, connection: ServerConnection, viewer: Viewer) -> None:
        try:
            while True:
                await viewer.wake.wait()
                viewer.wake.clear()
                frame = viewer.next_to_send()
                if frame is not None:
                    await connection.send(frame.message)
                    viewer.sent += 1
        except ConnectionClosed:
            return

    def _painted(self, viewer: Viewer, answer: str | bytes) -> None:
        try:
            sequence = json.loads(answer)["painted"]
        except (ValueError, TypeError, KeyError):
            return
        if not isinstance(sequence, int):
            return
        frame = viewer.painted_frame(sequence)
        if frame is not None:
            with self._lock:
                self._latencies_ms.append((time.monotonic_ns() - frame.offered_ns) / 1e6)

    # -- any thread ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """url, viewers and their counts, refused handshakes, stage -> painted latency p50/p95 (ms)."""
        with self._lock:
            viewers = [viewer.counts() for viewer in self._viewers.values()]
            latencies = list(self._latencies_ms)
            totals = dict(self._gone)
        for counts in viewers:
            for key in totals:
                totals[key] += counts[key]
        latency = None
        if latencies:
            p50, p95 = np.percentile(latencies, [50, 95])
            latency = {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "frames": len(latencies)}
        return {"url": self.url, "token_required": self.settings.token is not None, "viewers": len(viewers),
                "frames_sent": totals["sent"], "frames_painted": totals["painted"],
                "viewer_drops": totals["dropped"], "per_viewer": viewers, "refused": self.refused,
                "paint_latency_ms": latency}


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """Stop the output's event loop and its thread (the loop is closed once the thread is gone)."""
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=CLOSE_TIMEOUT_S)
    if not thread.is_alive():
        loop.close()


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{url_host(address[0])}:{address[1]}" if address else "?"
