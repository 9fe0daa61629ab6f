"""VMC protocol (VSeeFace, Virtual Motion Capture, Waidayo...) over OSC/UDP -> the canonical rig.

Blend-shape values collect from /VMC/Ext/Blend/Val and take effect on /VMC/Ext/Blend/Apply
(names in any vocabulary; where one frame names a shape several ways, the precedence of
blendshapes.to_arkit applies); the head rotation is the Neck and Head local bone rotations
composed. /VMC/Ext/OK carries 1, 3 or 4 ints (loaded, calibration state, calibration mode and,
since protocol 2.7, the tracking status): a tracking status of 0 makes the source LOST, as if the
sender were silent, until a status of 1 and the next Apply. Unity's frame (left-handed,
y up, avatar facing +z) is the rig frame mirrored through the origin, so the rotation matrices are
identical and Unity's Euler angles X, Y, Z are pitch, yaw and roll directly.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from typing import Any

import numpy as np
from pythonosc import osc_packet
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from rain_vtuber.errors import RainError
from rain_vtuber.osc_guard import bundle_problem
from rain_vtuber.face.rig import euler_from_matrix, face_from_blend_shapes
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.sources.blendshapes import is_known, to_arkit

BLEND_VAL = "/VMC/Ext/Blend/Val"
BLEND_APPLY = "/VMC/Ext/Blend/Apply"
BONE_POS = "/VMC/Ext/Bone/Pos"
AVAILABLE = "/VMC/Ext/OK"
_HEAD_BONES = ("Neck", "Head")


class _QuietPythonOsc(logging.Filter):
    """Drops python-osc's own root-logger warnings (one per unparsable bundle element or argument type).

    Garbage on the port would otherwise flood the log; the source counts and rate-limits those packets itself.
    """

    _PACKAGE = os.path.dirname(osc_packet.__file__)

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and record.pathname.startswith(self._PACKAGE))


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _QuietPythonOsc) for f in root.filters):
        root.addFilter(_QuietPythonOsc())


def quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Unit quaternion (x, y, z, w) -> 3x3 rotation matrix."""
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Dispatcher(Dispatcher):
    """Dispatches without sleeping on future time tags; reports unparsable packets instead of dropping them silently."""

    def __init__(self, source: VmcSource) -> None:
        super().__init__(strict_timing=False)
        self._source = source

    def call_handlers_for_packet(self, data: bytes, client_address: tuple[str, int]) -> list:
        if problem := bundle_problem(data):
            self._source.reject(problem)
            return []
        try:
            for timed in osc_packet.OscPacket(data).messages:
                for handler in self.handlers_for_address(timed.message.address):
                    handler.invoke(client_address, timed.message)
        except Exception as exc:  # python-osc raises ParseError and, on some garbage, others
            self._source.reject(f"unparsable OSC packet ({type(exc).__name__}: {exc})")
        return []


class _Server(BlockingOSCUDPServer):
    """Counts datagrams and reports the ones python-osc refuses before dispatch."""

    def __init__(self, address: tuple[str, int], source: VmcSource) -> None:
        super().__init__(address, _Dispatcher(source))
        self._source = source

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self._source.counters.received += 1
        if super().verify_request(request, client_address):
            return True
        self._source.reject("not an OSC message or bundle")
        return False

    def handle_error(self, request: Any, client_address: Any) -> None:
        source = self._source
        source.counters.errors += 1
        source.warn.warning("handler", "source %s: error while handling a packet: %r", source.name, sys.exc_info()[1])


class VmcSource(FaceSource):
    """VMC receiver ("Marionette") on host:port (39539 by default; some senders use 39540)."""

    def __init__(self, host: str, port: int, lost_after_s: float = 0.5) -> None:
        super().__init__(f"vmc:{port}", lost_after_s=lost_after_s)
        self.host, self.port = host, port
        self._pending: dict[str, float] = {}
        self._bones: dict[str, np.ndarray] = {}
        self._sender_lost = False  # the sender's own tracking status (VMC 2.7) says no face

    def reject(self, reason: str) -> None:
        """Count and (rate-limited) log a packet or message that cannot be used."""
        self.counters.rejected += 1
        key = "message" if reason.startswith("/") else reason.split(" ", 1)[0]  # addresses are sender-chosen: unbounded
        self.warn.warning(key, "source %s: ignored %s", self.name, reason)

    def _run(self) -> None:
        _quiet_python_osc()
        self._sender_lost = False
        try:
            server = _Server((self.host, self.port), self)
        except OSError as exc:
            raise RainError(
                f"cannot listen on UDP {self.host}:{self.port} ({exc.strerror or exc}): close the other VMC receiver "
                "(VSeeFace, VNyan, ...) on that port or choose another --port"
            ) from exc
        dispatcher = server.dispatcher
        dispatcher.map(BLEND_VAL, self._on_blend)
        dispatcher.map(BLEND_APPLY, self._on_apply)
        dispatcher.map(BONE_POS, self._on_bone)
        dispatcher.map(AVAILABLE, self._on_available)
        server.timeout = 0.1
        with server:
            while not self._stopping.is_set():
                server.handle_request()

    def _on_blend(self, address: str, *args: Any) -> None:
        if len(args) < 2 or not isinstance(args[0], str) or not _is_number(args[1]):
            self.reject(f"{address} expects (string name, float value), got {_types(args)}")
            return
        if is_known(args[0]):  # only known names are kept, so a flood of made-up names cannot grow memory
            self._pending[args[0]] = float(args[1])

    def _on_bone(self, address: str, *args: Any) -> None:
        if not args or not isinstance(args[0], str):
            self.reject(f"{address} expects (string name, 7 floats), got {_types(args)}")
            return
        if args[0] not in _HEAD_BONES:
            return
        if len(args) < 8 or not all(_is_number(a) for a in args[1:8]):
            self.reject(f"{address} {args[0]} expects 7 finite floats, got {_types(args[1:])}")
            return
        quaternion = np.array(args[4:8], dtype=float)
        norm = float(np.linalg.norm(quaternion))
        if not 0.5 < norm < 2.0:
            self.reject(f"{address} {args[0]} rotation is not a unit quaternion (norm {norm:.3g})")
            return
        self._bones[args[0]] = quaternion_matrix(*(quaternion / norm))

    def _on_available(self, address: str, *args: Any) -> None:
        if not args or not all(isinstance(a, int) and not isinstance(a, bool) for a in args[:4]):
            self.reject(f"{address} expects 1, 3 or 4 ints, got {_types(args)}")
            return
        if len(args) >= 4:  # loaded, calibration state, calibration mode, tracking status
            self._sender_lost = args[3] == 0
            if self._sender_lost:
                self._lose()

    def _on_apply(self, address: str, *args: Any) -> None:
        if self._sender_lost:  # values keep coming, but they are the last ones before the face was lost
            return
        rotation = None
        if self._bones:
            matrix = self._bones.get("Neck", np.eye(3)) @ self._bones.get("Head", np.eye(3))
            rotation = euler_from_matrix(matrix)
        self._publish(face_from_blend_shapes(to_arkit(self._pending), rotation, None, (0.0, 0.0, 0.0), self.name))


def _types(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(type(a).__name__ for a in args[:8]) + ")"
