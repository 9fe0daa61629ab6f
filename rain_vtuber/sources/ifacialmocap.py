"""iFacialMocap (iPhone) over UDP: handshake, v1/v2 parsing, blend shapes -> the canonical rig.

The receiver asks the phone to stream by sending HANDSHAKE (plus "|sendDataVersion=v2" for v2)
to the phone's port 49983; the phone then streams to the sender's address. Some senders push
without a handshake, so the socket also just listens. Both formats are parsed whatever was asked,
because a v1/v2 mismatch is the most reported failure.

Angles are read as ARKit's right-handed frame (x to the camera's right, y up, z towards the
camera) and converted to the FaceState convention: pitch = rx, yaw = -ry, roll = -rz.
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass, field
from typing import Literal

from rain_vtuber.errors import RainError
from rain_vtuber.face.rig import face_from_blend_shapes
from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.sources.blendshapes import is_known, to_arkit

HANDSHAKE = b"iFacialMocap_sahuasouryya9218sauhuiayeta91555dy3719"
V2_REQUEST = b"|sendDataVersion=v2"
_MAX_ABS = 1e4  # angles in degrees, positions in metres: anything larger is garbage
Vector = tuple[float, float, float]


class PacketError(ValueError):
    """A datagram that is not a usable iFacialMocap frame."""


@dataclass
class MocapFrame:
    """One parsed datagram: raw blend-shape values 0..1 (sender's names) and the head pose if sent."""

    blend_shapes: dict[str, float] = field(default_factory=dict)
    head: tuple[float, ...] | None = None  # rx, ry, rz in degrees [, px, py, pz in metres]


def _number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise PacketError(f"not a number: {text[:20]!r}") from None
    if not math.isfinite(value) or abs(value) > _MAX_ABS:
        raise PacketError(f"value out of range: {text[:20]!r}")
    return value


def parse_packet(data: bytes) -> MocapFrame:
    """v1 (`name-value|`) or v2 (`name&value|`) payload -> MocapFrame; raises PacketError.

    Blend values arrive as 0..100 (negative as `name--5`) and become 0..1. Unknown names, eye
    rotations and empty items are ignored; a known name with a bad value rejects the datagram.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PacketError("not UTF-8 text") from None
    frame = MocapFrame()
    for item in text.split("|"):
        item = item.strip()
        if "#" in item:
            name, _, values = item.partition("#")
            if name.strip().lstrip("=").strip().lower() == "head":
                numbers = tuple(_number(v) for v in values.split(","))
                if len(numbers) < 3:
                    raise PacketError(f"head needs rx,ry,rz[,px,py,pz], got {len(numbers)} values")
                frame.head = numbers[:6]
            continue
        separator = "&" if "&" in item else "-"
        name, found, value = item.partition(separator)
        if found and is_known(name):
            frame.blend_shapes[name.strip()] = min(max(_number(value) / 100.0, 0.0), 1.0)
    if not frame.blend_shapes and frame.head is None:
        raise PacketError("no blend shapes and no head pose")
    return frame


def handshake(protocol: Literal["v1", "v2"]) -> bytes:
    """The start message that makes the phone stream (in the requested format)."""
    return HANDSHAKE + (V2_REQUEST if protocol == "v2" else b"")


class IFacialMocapSource(FaceSource):
    """Listens on host:port; while no data flows, sends the handshake to phone_host:phone_port every second."""

    def __init__(self, host: str, port: int, phone_host: str | None, phone_port: int,
                 protocol: Literal["v1", "v2"] = "v2", lost_after_s: float = 0.5,
                 handshake_interval_s: float = 1.0) -> None:
        super().__init__(f"ifacialmocap:{port}", lost_after_s=lost_after_s)
        self.host, self.port = host, port
        self.phone: tuple[str, int] | None = (phone_host, phone_port) if phone_host else None
        self.protocol = protocol
        self._handshake_interval_s = handshake_interval_s
        self._blend: dict[str, float] = {}
        self._neutral_position: Vector | None = None

    def _run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                raise RainError(
                    f"cannot listen on UDP {self.host}:{self.port} ({exc.strerror or exc}): close the other program "
                    "using it (another tracker receiver?) or choose another --port"
                ) from exc
            sock.settimeout(0.1)
            last_handshake = -math.inf
            while not self._stopping.is_set():
                due = time.monotonic() - last_handshake >= self._handshake_interval_s
                if self.phone and due and self.state is not TrackingState.TRACKING:
                    last_handshake = time.monotonic()
                    self._send_handshake(sock, self.phone)
                try:
                    data, _ = sock.recvfrom(65535)
                except (socket.timeout, ConnectionResetError):
                    continue
                self.counters.received += 1
                self._handle(data)
        finally:
            sock.close()

    def _send_handshake(self, sock: socket.socket, phone: tuple[str, int]) -> None:
        try:
            sock.sendto(handshake(self.protocol), phone)
        except OSError as exc:
            self.warn.warning("handshake", "source %s: cannot reach the phone at %s:%s: %s", self.name, *phone, exc)

    def _handle(self, data: bytes) -> None:
        try:
            frame = parse_packet(data)
        except PacketError as exc:
            self.counters.rejected += 1
            self.warn.warning("packet", "source %s: ignored a bad packet (%s)", self.name, exc)
            return
        self._blend.update(frame.blend_shapes)
        rotation, position = head_pose(frame.head) if frame.head else (None, None)
        translation = (0.0, 0.0, 0.0)
        if position is not None:  # relative to where the head first was; recentering does the rest
            neutral = self._neutral_position = self._neutral_position or position
            translation = (position[0] - neutral[0], position[1] - neutral[1], position[2] - neutral[2])
        self._publish(face_from_blend_shapes(to_arkit(self._blend), rotation, position, translation, self.name))


def head_pose(head: tuple[float, ...]) -> tuple[Vector, Vector | None]:
    """ARKit rx, ry, rz (degrees) [, px, py, pz (metres)] -> FaceState rotation and rig-frame position."""
    rx, ry, rz = (math.remainder(a, 360.0) for a in head[:3])
    position = (head[3], -head[4], -head[5]) if len(head) >= 6 else None  # x right, y down, z away
    return (rx, -ry, -rz), position
