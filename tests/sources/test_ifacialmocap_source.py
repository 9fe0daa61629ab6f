"""iFacialMocap: v1/v2 parsing, the handshake, and faces over real UDP on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.ifacialmocap import HANDSHAKE, IFacialMocapSource, PacketError, parse_packet
from tests.sources.source_helpers import check_blink, check_jaw_open, check_nose_moves, send_until, wait_until


def packet(version: str, head: str = "0,0,0,0.01,-0.02,-0.4", **blend: int) -> bytes:
    separator = "-" if version == "v1" else " & "
    items = [f"{name}{separator}{value}" for name, value in blend.items()]
    return ("|".join(items) + f"|=head#{head}|rightEye#0,0,0|leftEye#0,0,0|").encode()


def test_parse_v1_with_negative_values_and_eyes() -> None:
    frame = parse_packet(
        b"mouthSmile_L-50|browDown_R--5|eyeBlink_L-100|=head#-21.5,6.0,-6.6,-0.03,-0.10,-0.66|rightEye#6,2,0|"
    )
    assert frame.blend_shapes == {"mouthSmile_L": 0.5, "browDown_R": 0.0, "eyeBlink_L": 1.0}
    assert frame.head == pytest.approx((-21.5, 6.0, -6.6, -0.03, -0.10, -0.66))


def test_parse_v2_spaces_trailing_bar_and_unknown_keys() -> None:
    frame = parse_packet(b"eyeSquint_R & 10|jawOpen&35|someFutureKey&7|hapihapi|=head#1,2,3|trueDepth#x|")
    assert frame.blend_shapes == {"eyeSquint_R": 0.1, "jawOpen": 0.35}
    assert frame.head == (1.0, 2.0, 3.0)


@pytest.mark.parametrize("bad", [b"", b"|||", b"\xff\xfe", b"jawOpen-abc|", b"jawOpen&nan|", b"=head#1,2|",
                                 b"=head#inf,0,0|", b"eyeBlink_L-1e999|", b"unknownOnly-5|"])
def test_parse_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(PacketError):
        parse_packet(bad)


def start(port: int, **options) -> IFacialMocapSource:
    source = open_source(SourceConfig(kind="ifacialmocap", host="127.0.0.1", port=port, **options))
    assert isinstance(source, IFacialMocapSource)
    source.start()
    return source


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_pushed_packets_drive_the_rig(version: str, free_udp_port, udp_sender: socket.socket, render) -> None:
    port = free_udp_port()
    source = start(port)
    try:
        assert source.state is TrackingState.WAITING and source.latest() is None

        def face_after(data: bytes, predicate):
            assert send_until(lambda: udp_sender.sendto(data, ("127.0.0.1", port)),
                              lambda: (f := source.latest()) is not None and predicate(f))
            return source.latest()

        neutral = face_after(packet(version, eyeBlink_L=0, eyeBlink_R=0, jawOpen=0), lambda f: True)
        blinked = face_after(packet(version, eyeBlink_L=100, eyeBlink_R=100, jawOpen=0),
                             lambda f: f.expressions.get("eyeBlinkLeft") == 1.0)
        opened = face_after(packet(version, eyeBlink_L=0, eyeBlink_R=0, jawOpen=100),
                            lambda f: f.expressions.get("jawOpen") == 1.0 and f.expressions["eyeBlinkLeft"] == 0)
        turned = face_after(packet(version, head="0,30,0,0.01,-0.02,-0.4", jawOpen=0),
                            lambda f: f.rotation is not None and abs(f.rotation[1]) > 1)
        image = render(neutral)
        check_blink(neutral, blinked, image, render(blinked))
        check_jaw_open(neutral, opened, image, render(opened))
        assert turned.rotation == pytest.approx((0.0, -30.0, 0.0))  # ARKit ry -> FaceState yaw = -ry
        check_nose_moves(neutral, turned, image, render(turned), direction=+1)
        assert neutral.position == pytest.approx((0.01, 0.02, 0.4))
        assert source.state is TrackingState.TRACKING and source.counters.rejected == 0
        # no packets for lost_after_s: LOST, and latest() stops handing out the stale face
        assert wait_until(lambda: source.state is TrackingState.LOST, timeout=3)
        assert source.latest() is None
    finally:
        source.stop()


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_handshake_reaches_the_phone_which_then_streams(protocol: str, free_udp_port) -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(5.0)
        source = start(port, phone_host="127.0.0.1", phone_port=phone.getsockname()[1], protocol=protocol)
        try:
            message, receiver = phone.recvfrom(1024)
            expected = HANDSHAKE + (b"|sendDataVersion=v2" if protocol == "v2" else b"")
            assert message == expected
            assert receiver[1] == port  # sent from the listening socket, so the reply comes back to it
            assert send_until(lambda: phone.sendto(packet(protocol, jawOpen=60), receiver),
                              lambda: (f := source.latest()) is not None and f.expressions["jawOpen"] == 0.6)
        finally:
            source.stop()


def test_port_in_use_is_an_error_state_not_an_exception(free_udp_port) -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        source = start(port)
        try:
            assert wait_until(lambda: source.state is TrackingState.ERROR)
            assert f"127.0.0.1:{port}" in source.error and "--port" in source.error
        finally:
            source.stop()
    assert not source.running
