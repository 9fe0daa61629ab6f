"""iFacialMocap: v1/v2 parsing, the handshake, and faces over real UDP on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from rain_vtuber.face.state import TrackingState
from rain_vtuber.landmarks import Calibration, PoseRenderer
from rain_vtuber.face.filter import FilterOptions
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.ifacialmocap import HANDSHAKE, IFacialMocapSource, PacketError, head_rotation, parse_packet
from rain_vtuber.utils.ports import free_port
from tests.sources.source_helpers import (INNER_LIP, check_blink, check_jaw_open, check_nose_moves, lid_gap,
                                         send_until, vertical_span)
from tests.waiting import wait_until


def packet(version: str, head: str = "0,0,0,0.01,-0.02,-0.4", **blend: int) -> bytes:
    separator = "-" if version == "v1" else " & "
    items = [f"{name}{separator}{value}" for name, value in blend.items()]
    return ("|".join(items) + f"|=head#{head}|rightEye#0,0,0|leftEye#0,0,0|").encode()


def test_parse_v1_with_negative_values_and_eyes() -> None:
    frame = parse_packet(
        b"mouthSmile_L-50|browDown_R--5|eyeBlink_L-100|=head#-21.5,6.0,-6.6,-0.03,-0.10,-0.66|rightEye#6,2,0|"
    )
    assert frame.blend_shapes == {"mouthSmile_L": 0.5, "browDown_R": 0.0, "eyeBlink_L": 1.0}
    assert frame.rotations == {"head": pytest.approx((-21.5, 6.0, -6.6))}
    assert frame.position == pytest.approx((-0.03, -0.10, -0.66))
    assert frame.tracking is None


def test_parse_v2_spaces_trailing_bar_and_unknown_keys() -> None:
    frame = parse_packet(b"eyeSquint_R & 10|jawOpen&35|someFutureKey&7|hapihapi|=head#1,2,3|trueDepth#x|")
    assert frame.blend_shapes == {"eyeSquint_R": 0.1, "jawOpen": 0.35}
    assert frame.rotations == {"head": (1.0, 2.0, 3.0)} and frame.position is None


# The PC relay ("iFacialMocap to Software") and Facemotion3D, as their receivers parse them: a mesh-group item,
# full ARKit names (Facemotion3D: `blendShape1.` prefix and `&`), then bone items that end with the object name
# they drive, the head position as its own item, and the head angles split 15/35/50 % over spine, neck and head.
RELAY_BONES = ("=headPosition#0.012,-0.031,0.004,objectName_is_not_specified|head#-8.0,12.0,3.0,head|"
               "rightEye#-4.5,1.25,0.0,eyeBall_R|leftEye#-4.5,0.75,0.0,eyeBall_L|neck#-5.6,8.4,2.1,neckLower|"
               "spine#-2.4,3.6,0.9,objectName_is_not_specified|")
RELAY = "faceObjGrp!AvatarHead|eyeBlinkLeft-100|eyeBlinkRight-0|jawOpen-40|mouthSmileLeft-25|" + RELAY_BONES
FACEMOTION3D = ("faceObjGrp!AvatarHead|blendShape1.eyeBlinkLeft&100|blendShape1.eyeBlinkRight&0|"
                "blendShape1.jawOpen&40|blendShape1.mouthSmileLeft&25|" + RELAY_BONES)


@pytest.mark.parametrize("text", [RELAY, FACEMOTION3D], ids=["pc-relay", "facemotion3d"])
def test_parse_relay_and_facemotion3d_forms(text: str) -> None:
    frame = parse_packet(text.encode())
    assert frame.blend_shapes == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.0, "jawOpen": 0.4, "mouthSmileLeft": 0.25}
    assert frame.rotations == {"head": (-8.0, 12.0, 3.0), "neck": (-5.6, 8.4, 2.1), "spine": (-2.4, 3.6, 0.9)}
    assert frame.position == (0.012, -0.031, 0.004)  # from headPosition#, not from the head item
    assert head_rotation(frame.rotations) == pytest.approx((-16.0, -24.0, -6.0))  # the phone's angles again


def test_parse_tracking_status_and_extra_keys_of_newer_app_versions() -> None:
    lost = parse_packet(b"trackingStatus-0|eyeLookIn_R-7|mouthSmile_L-3|hapihapi-0|"
                        b"=head#-5.5,0.5,-2.0,-0.002,-0.026,-0.553|rightEye#6.5,2.8,0.3|leftEye#6.6,-1.6,-0.2|")
    assert lost.tracking is False and lost.blend_shapes == {"eyeLookIn_R": 0.07, "mouthSmile_L": 0.03}
    assert parse_packet(b"trackingStatus&1|jawOpen&5|hapihapi&0|").tracking is True
    assert parse_packet(b"trackingStatus-0|").tracking is False  # nothing else: still a usable message


@pytest.mark.parametrize("stray", ["iFacialMocap recording\n", "\r\n", "2024-05-01 12:00:00 v2\r\n"])
def test_a_stray_leading_line_does_not_cost_the_first_blend_shape(stray: str) -> None:
    frame = parse_packet(f"{stray}eyeBlink_L-80|eyeBlink_R-10|=head#1,2,3,0,0,-0.5|".encode())
    assert frame.blend_shapes == {"eyeBlink_L": 0.8, "eyeBlink_R": 0.1}


@pytest.mark.parametrize("bad", [b"", b"|||", b"\xff\xfe", b"jawOpen-abc|", b"jawOpen&nan|", b"=head#1,2|",
                                 b"=head#inf,0,0|", b"eyeBlink_L-1e999|", b"unknownOnly-5|",
                                 b"head#1,2,head|", b"=headPosition#x,0,0,name|", b"neck#1,nan,3,neckLower|",
                                 b"faceObjGrp!Head|", b"trackingStatus-yes|"])
def test_parse_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(PacketError):
        parse_packet(bad)


def start(port: int, **options) -> IFacialMocapSource:
    source = open_source(SourceConfig(kind="ifacialmocap", host="127.0.0.1", port=port, **options))
    assert isinstance(source, IFacialMocapSource)
    source.start()
    return source


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_pushed_packets_drive_the_rig(version: str, udp_sender: socket.socket, render) -> None:
    port = free_port()
    source = start(port)
    try:
        assert source.state is TrackingState.WAITING and source.latest() is None

        def face_after(data: bytes, predicate):
            send_until(lambda: udp_sender.sendto(data, ("127.0.0.1", port)),
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
        wait_until(lambda: source.state is TrackingState.LOST, 3)
        assert source.latest() is None
    finally:
        source.stop()


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_handshake_reaches_the_phone_which_then_streams(protocol: str) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(5.0)
        source = start(port, phone_host="127.0.0.1", phone_port=phone.getsockname()[1], protocol=protocol)
        try:
            message, receiver = phone.recvfrom(1024)
            expected = HANDSHAKE + (b"|sendDataVersion=v2" if protocol == "v2" else b"")
            assert message == expected
            assert receiver[1] == port  # sent from the listening socket, so the reply comes back to it
            send_until(lambda: phone.sendto(packet(protocol, jawOpen=60), receiver),
                       lambda: (f := source.latest()) is not None and f.expressions["jawOpen"] == 0.6)
        finally:
            source.stop()


def test_port_in_use_is_an_error_state_not_an_exception() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        source = start(port)
        try:
            wait_until(lambda: source.state is TrackingState.ERROR, 5)
            assert f"127.0.0.1:{port}" in source.error and "--port" in source.error
        finally:
            source.stop()
    assert not source.running


@pytest.mark.parametrize("text", [RELAY, FACEMOTION3D], ids=["pc-relay", "facemotion3d"])
def test_relay_and_facemotion3d_packets_drive_the_rig(text: str, udp_sender: socket.socket) -> None:
    port = free_port()
    source = start(port)
    try:
        send_until(lambda: udp_sender.sendto(text.encode(), ("127.0.0.1", port)),
                   lambda: source.latest() is not None)
        face = source.latest()
        assert face.rotation == pytest.approx((-16.0, -24.0, -6.0))  # spine+neck+head; yaw = -ry, roll = -rz
        assert face.position == pytest.approx((0.012, 0.031, -0.004))
        assert face.expressions["jawOpen"] == pytest.approx(0.4)
        assert face.expressions["eyeBlinkLeft"] == 1.0 and face.expressions["eyeBlinkRight"] == 0.0
        assert lid_gap(face.points, "left") < 0.2 * lid_gap(face.points, "right")  # a wink stays a wink
        assert source.counters.rejected == 0
    finally:
        source.stop()


def test_tracking_status_0_is_lost_while_packets_keep_coming(udp_sender: socket.socket) -> None:
    port = free_port()
    source = start(port, lost_after_s=30.0)  # silence cannot be the reason here: only the status can
    address = ("127.0.0.1", port)

    def status(value: int, jaw: int) -> bytes:
        return f"trackingStatus-{value}|jawOpen-{jaw}|eyeBlink_L-0|hapihapi-0|=head#0,10,0,0,0,-0.5|".encode()

    try:
        send_until(lambda: udp_sender.sendto(status(1, 30), address),
                   lambda: source.state is TrackingState.TRACKING)
        send_until(lambda: udp_sender.sendto(status(0, 30), address), lambda: source.state is TrackingState.LOST)
        received = source.counters.received
        for _ in range(5):  # the phone keeps repeating its last values: the source stays lost
            udp_sender.sendto(status(0, 90), address)
        wait_until(lambda: source.counters.received >= received + 5, 2)
        assert source.state is TrackingState.LOST and source.latest() is None
        face = None

        def recovered() -> bool:
            nonlocal face
            face = source.latest()
            return face is not None

        send_until(lambda: udp_sender.sendto(status(1, 70), address), recovered)
        assert source.state is TrackingState.TRACKING
        assert face.expressions["jawOpen"] == pytest.approx(0.7)  # the stale lost-face values were not kept
        assert source.counters.rejected == 0
    finally:
        source.stop()


def test_a_recorded_sample_with_a_stray_first_line_keeps_its_wink(udp_sender: socket.socket) -> None:
    port = free_port()
    source = start(port)
    text = "iFacialMocap sample\neyeBlink_L-100|eyeBlink_R-0|jawOpen-0|=head#0,0,0,0,0,-0.5|rightEye#0,0,0|"
    try:
        send_until(lambda: udp_sender.sendto(text.encode(), ("127.0.0.1", port)),
                   lambda: source.latest() is not None)
        face = source.latest()
        assert face.expressions["eyeBlinkLeft"] == 1.0 and face.expressions["eyeBlinkRight"] == 0.0
        assert lid_gap(face.points, "left") < 0.2 * lid_gap(face.points, "right")
        assert source.counters.rejected == 0
    finally:
        source.stop()


def test_a_lost_face_holds_then_eases_to_neutral_like_a_silent_source(udp_sender: socket.socket) -> None:
    """The renderer's loss path (hold for loss_delay_s, ease over loss_ease_s) runs on the phone's own status."""
    port = free_port()
    source = start(port, lost_after_s=30.0)
    now = 0
    calib = Calibration.exact().model_copy(update={"filter": FilterOptions(loss_delay_s=0.3, loss_ease_s=0.8)})
    renderer = PoseRenderer(calib, height=256, width=256, clock=lambda: now)
    address = ("127.0.0.1", port)
    try:
        opened = b"trackingStatus-1|jawOpen-100|=head#0,0,0,0,0,-0.5|"
        send_until(lambda: udp_sender.sendto(opened, address), lambda: source.latest() is not None)
        face = source.latest()
        shown_open = renderer.render(face)
        assert vertical_span(shown_open, INNER_LIP) > 20
        lost = b"trackingStatus-0|jawOpen-100|=head#0,0,0,0,0,-0.5|"
        send_until(lambda: udp_sender.sendto(lost, address), lambda: source.state is TrackingState.LOST)
        now = face.timestamp_ns + 100_000_000  # 0.1 s after the last tracked face: still held
        assert (renderer.render(source.latest()) == shown_open).all()
        now = face.timestamp_ns + 2_000_000_000  # past delay + ease: the neutral face, mouth closed
        assert vertical_span(renderer.render(source.latest()), INNER_LIP) < 0.2 * vertical_span(shown_open, INNER_LIP)
    finally:
        source.stop()


def test_switching_from_the_phone_to_the_relay_leaves_no_stale_shape(udp_sender: socket.socket) -> None:
    port = free_port()
    source = start(port)
    address = ("127.0.0.1", port)
    try:
        phone = b"eyeBlink_L-100|jawOpen-0|=head#0,0,0,0,0,-0.5|"
        send_until(lambda: udp_sender.sendto(phone, address),
                   lambda: (f := source.latest()) is not None and f.expressions["eyeBlinkLeft"] == 1.0)
        send_until(lambda: udp_sender.sendto(RELAY.encode(), address),
                   lambda: (f := source.latest()) is not None and f.expressions["jawOpen"] == 0.4)
        face = source.latest()
        assert face.expressions["eyeBlinkLeft"] == 1.0 and face.expressions["eyeBlinkRight"] == 0.0
        relay_open = RELAY.replace("eyeBlinkLeft-100", "eyeBlinkLeft-0")
        send_until(lambda: udp_sender.sendto(relay_open.encode(), address),
                   lambda: (f := source.latest()) is not None and f.expressions["eyeBlinkLeft"] == 0.0)
    finally:
        source.stop()
