"""iFacialMocap / Facemotion3D over UDP: handshake, every text form they send, blend shapes -> the rig.

The receiver asks the phone to stream by sending HANDSHAKE (plus "|sendDataVersion=v2" for v2)
to the phone's port 49983; the phone then streams to the sender's address. Some senders push
without a handshake, so the socket also just listens. Every form is parsed whatever was asked,
because a v1/v2 mismatch is the most reported failure:

- phone, v1: `mouthSmile_L-50|...|=head#rx,ry,rz,px,py,pz|rightEye#rx,ry,rz|leftEye#rx,ry,rz|`
- phone, v2: the same with `&` between name and value (`eyeSquint_R&10`, spaces allowed);
  newer versions add `trackingStatus-1|` (0: the face is lost, stale values keep coming) and
  `hapihapi-0|`.
- PC relay ("iFacialMocap to Software") and Facemotion3D: `faceObjGrp!Name|` first, full ARKit
  names, optionally prefixed (`blendShape1.eyeBlinkLeft&9`), then `=headPosition#x,y,z,name|`
  `head#rx,ry,rz,name|rightEye#rx,ry,rz,eyeBall_R|leftEye#...|neck#...|spine#...|`: each bone
  item ends with the object name(s) it drives, and the head position has an item of its own.
  The relay spreads the head angles over spine, neck and head (15/35/50 % of each angle in its
  samples), so the face's rotation is their sum.

Angles are Euler X, Y, Z in degrees (the developer page: "degrees, not radians"), read in ARKit's
right-handed frame (x to the camera's right, y up, z towards the camera) and converted to the
FaceState convention: pitch = rx, yaw = -ry, roll = -rz. Positions are metres. Eye rotations are
not used (the eyeLook* blend shapes carry the gaze). A stray line before the first item (recorded
sample files have one) is dropped, not read as part of the first name.
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass, field
from typing import Literal, Mapping

from rain_vtuber.errors import RainError
from rain_vtuber.face.rig import face_from_blend_shapes
from rain_vtuber.sources.base import FaceSource
from rain_vtuber.sources.blendshapes import is_known, to_arkit

HANDSHAKE = b"iFacialMocap_sahuasouryya9218sauhuiayeta91555dy3719"
V2_REQUEST = b"|sendDataVersion=v2"
_MAX_ABS = 1e4  # angles in degrees, positions in metres: anything larger is garbage
_ROTATION_BONES = ("spine", "neck", "head")
_TRACKING_STATUS = "trackingstatus"
Vector = tuple[float, float, float]


class PacketError(ValueError):
    """A datagram that is not a usable iFacialMocap frame."""


@dataclass
class MocapFrame:
    """One parsed datagram: raw blend-shape values 0..1 (sender's names), bone rotations, head position."""

    blend_shapes: dict[str, float] = field(default_factory=dict)
    rotations: dict[str, Vector] = field(default_factory=dict)  # head/neck/spine: rx, ry, rz in degrees
    position: Vector | None = None  # head position in metres (ARKit frame)
    tracking: bool | None = None  # trackingStatus item: False while the phone has lost the face


def _number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise PacketError(f"not a number: {text[:20]!r}") from None
    if not math.isfinite(value) or abs(value) > _MAX_ABS:
        raise PacketError(f"value out of range: {text[:20]!r}")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bone_numbers(name: str, values: str) -> tuple[float, ...]:
    """`rx,ry,rz[,px,py,pz]` or the relay's `x,y,z,objectName` -> the numbers (at least 3)."""
    fields = values.split(",")
    if not _is_number(fields[-1]):  # the object name(s) the relay's item drives
        fields.pop()
    numbers = tuple(_number(v) for v in fields)
    if len(numbers) < 3:
        raise PacketError(f"{name} needs 3 numbers, got {len(numbers)}")
    return numbers


def _vector(numbers: tuple[float, ...], start: int = 0) -> Vector:
    return numbers[start], numbers[start + 1], numbers[start + 2]


def _parse_bone(frame: MocapFrame, item: str) -> None:
    name, _, values = item.partition("#")
    bone = name.strip().lstrip("=").strip().lower()
    if bone == "headposition":
        frame.position = _vector(_bone_numbers(name, values))
    elif bone in _ROTATION_BONES:
        numbers = _bone_numbers(name, values)
        frame.rotations[bone] = _vector(numbers)
        if bone == "head" and len(numbers) >= 6:  # the phone's direct form: the position follows
            frame.position = _vector(numbers, 3)


def _parse_value(frame: MocapFrame, item: str) -> None:
    separator = "&" if "&" in item else "-"
    name, found, value = item.partition(separator)
    if not found:
        return
    name = name.strip().rpartition(".")[2]  # Facemotion3D's `blendShape1.` prefix
    if name.lower() == _TRACKING_STATUS:
        frame.tracking = _number(value) != 0
    elif is_known(name):
        frame.blend_shapes[name] = min(max(_number(value) / 100.0, 0.0), 1.0)


def parse_packet(data: bytes) -> MocapFrame:
    """Any of the text forms in the module docstring -> MocapFrame; raises PacketError.

    Blend values arrive as 0..100 (negative as `name--5`) and become 0..1. Unknown names, eye
    rotations, `faceObjGrp!` items and empty items are ignored; a known name or bone with a bad
    value rejects the datagram.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PacketError("not UTF-8 text") from None
    frame = MocapFrame()
    for item in text.split("|"):
        lines = item.strip().splitlines()
        item = lines[-1].strip() if lines else ""  # a stray line before the first item is not part of it
        if "!" in item:  # faceObjGrp!Name: which mesh group the relay drives
            continue
        if "#" in item:
            _parse_bone(frame, item)
        else:
            _parse_value(frame, item)
    if not frame.blend_shapes and not frame.rotations and frame.tracking is None:
        raise PacketError("no blend shapes, no head pose and no tracking status")
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
            last_handshake = last_data = -math.inf
            while not self._stopping.is_set():
                now = time.monotonic()
                silent = now - max(last_handshake, last_data) >= self._handshake_interval_s
                if self.phone and silent:  # not while data flows, even if the phone reports a lost face
                    last_handshake = now
                    self._send_handshake(sock, self.phone)
                try:
                    data, _ = sock.recvfrom(65535)
                except (socket.timeout, ConnectionResetError):
                    continue
                last_data = time.monotonic()
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
        if frame.tracking is False:  # the phone lost the face and repeats stale values: as if silent
            self._lose()
            return
        self._blend.update(to_arkit(frame.blend_shapes))  # by ARKit name: eyeBlink_L and eyeBlinkLeft are one shape
        rotation = head_rotation(frame.rotations) if frame.rotations else None
        position = rig_position(frame.position) if frame.position is not None else None
        translation = (0.0, 0.0, 0.0)
        if position is not None:  # relative to where the head first was; recentering does the rest
            neutral = self._neutral_position = self._neutral_position or position
            translation = (position[0] - neutral[0], position[1] - neutral[1], position[2] - neutral[2])
        self._publish(face_from_blend_shapes(self._blend, rotation, position, translation, self.name))


def head_rotation(rotations: Mapping[str, Vector]) -> Vector:
    """ARKit Euler angles (degrees) of the head and, from the relay, neck and spine -> FaceState rotation.

    The relay splits the phone's head angles linearly over spine, neck and head, so their sum is
    the phone's measurement again (composing them as rotations would not be).
    """
    rx, ry, rz = (math.remainder(sum(r[axis] for r in rotations.values()), 360.0) for axis in range(3))
    return rx, -ry, -rz


def rig_position(position: Vector) -> Vector:
    """ARKit position (x right, y up, z towards the camera) -> rig frame (x right, y down, z away)."""
    return position[0], -position[1], -position[2]
