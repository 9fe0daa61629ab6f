"""The calibration page's HTTP server: standard-library ThreadingHTTPServer on 127.0.0.1 only.

Routing only; every answer comes from the CalibrationSession. Images are rendered on request, so
the page's polling rate is the refresh rate and nothing renders while no page is open.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable

from rain_vtuber.calibrate.session import CalibrationSession
from rain_vtuber.errors import RainError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_MAX_BODY = 64 * 1024


class CalibrationServer(ThreadingHTTPServer):
    """Binds at construction (so a busy port fails before anything is written) and serves a session."""

    daemon_threads = True
    session: CalibrationSession | None = None

    def __init__(self, port: int = 0) -> None:
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise RainError(
                    f"port {port} on {HOST} is already in use; pick another with --port, or leave --port out for a free one"
                ) from err
            raise RainError(f"cannot listen on {HOST}:{port}: {err.strerror or err}") from err

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def start(self, session: CalibrationSession) -> threading.Thread:
        """Serve `session` on a background thread; stop with shutdown() (then server_close())."""
        self.session = session
        thread = threading.Thread(target=self.serve_forever, name="calibrate-http", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: CalibrationServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s - %s", self.address_string(), format % args)

    # ---- routing -------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if not self._trusted(post=False):
            return
        path = self.path.split("?", 1)[0]
        session = self._session()
        images: dict[str, tuple[Callable[[], bytes | None], str]] = {
            "/overlay.jpg": (session.overlay_jpeg, "image/jpeg"),
            "/pose.png": (session.pose_png, "image/png"),
            "/preview.jpg": (session.preview_jpeg, "image/jpeg"),
        }
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
        elif path == "/api/state":
            self._json(session.state())
        elif path == "/api/audio":  # the level meter polls this, lighter than the whole state
            self._json(session.audio_state())
        elif path in images:
            render, ctype = images[path]
            self._guarded(lambda: self._bytes(render(), ctype))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        session = self._session()
        actions: dict[str, Callable[[dict], dict]] = {
            "/api/params": session.set_params,
            "/api/frame": session.set_frame,
            "/api/record": session.record,
            "/api/recenter": lambda _body: session.recenter(),
            "/api/auto_fit": session.set_auto_fit,
            "/api/save": lambda _body: session.save(),
            "/api/quit": lambda _body: session.quit(),
        }
        body = self._read_json()  # always consume the body: the connection is kept alive
        if body is None or not self._trusted(post=True):
            return
        action = actions.get(self.path.split("?", 1)[0])
        if action is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such action: {self.path}")
            return
        self._guarded(lambda: self._json(action(body)))

    # ---- helpers ---------------------------------------------------------------------------
    def _session(self) -> CalibrationSession:
        assert self.server.session is not None, "start() sets the session before serving"
        return self.server.session

    def _trusted(self, post: bool) -> bool:
        """Only this machine's pages: the Host must be ours (no DNS rebinding), and changes must be
        JSON requests (a cross-site form cannot send those without a CORS preflight, which we refuse)."""
        port = self.server.server_address[1]
        if self.headers.get("Host") not in (f"{HOST}:{port}", f"localhost:{port}"):
            self._error(HTTPStatus.FORBIDDEN, "wrong Host header; open the URL the command printed")
            return False
        if post and not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
            return False
        return True

    def _guarded(self, respond: Callable[[], None]) -> None:
        """RainError and bad input -> 400 with the message; anything else -> 500, logged."""
        try:
            respond()
        except (RainError, ValueError) as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))
        except Exception as err:  # a handler never takes the server down
            log.exception("calibration request %s failed", self.path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {err}")

    def _read_json(self) -> dict | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body must be 0..{_MAX_BODY} bytes")
            return None
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "request body is not JSON")
            return None
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
            return None
        return body

    def _static(self, name: str) -> None:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or name.startswith(".") or suffix not in _STATIC_TYPES:
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        try:
            data = resources.files("rain_vtuber.calibrate").joinpath("static", name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {name}")
            return
        self._bytes(data, _STATIC_TYPES[suffix])

    def _json(self, payload: dict) -> None:
        self._bytes(json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._bytes(json.dumps({"error": message}).encode("utf-8"), "application/json", status)

    def _bytes(self, data: bytes | None, ctype: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        if data is None:
            status, data, ctype = HTTPStatus.NO_CONTENT, b"", ctype
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
