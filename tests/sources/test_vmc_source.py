"""VMC over real OSC/UDP on 127.0.0.1: single messages, bundles, vocabularies, bone composition."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from pythonosc import osc_bundle_builder, osc_message_builder
from pythonosc.osc_bundle import OscBundle
from pythonosc.udp_client import SimpleUDPClient

from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.blendshapes import to_arkit
from rain_vtuber.sources.vmc import AVAILABLE, BLEND_APPLY, BLEND_VAL, BONE_POS, VmcSource
from rain_vtuber.utils.ports import free_port
from tests.sources.source_helpers import (EYE_LEFT, EYE_RIGHT, check_blink, check_jaw_open, check_nose_moves, lid_gap,
                                         send_until, vertical_span)
from tests.waiting import never_within, wait_until


def yaw_quaternion(degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return (0.0, math.sin(half), 0.0, math.cos(half))


def message(address: str, *args) -> osc_message_builder.OscMessageBuilder:
    builder = osc_message_builder.OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder


def bundle(blend: dict[str, float], bones: dict[str, tuple[float, float, float, float]] | None = None) -> OscBundle:
    """One VSeeFace-like frame: bones, all blend values, then Apply, in one bundle."""
    builder = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
    for name, q in (bones or {}).items():
        builder.add_content(message(BONE_POS, name, 0.0, 0.1, 0.0, *q).build())
    for name, value in blend.items():
        builder.add_content(message(BLEND_VAL, name, float(value)).build())
    builder.add_content(message(BLEND_APPLY).build())
    return builder.build()


@pytest.fixture
def vmc():
    port = free_port()
    source = open_source(SourceConfig(kind="vmc", host="127.0.0.1", port=port))
    assert isinstance(source, VmcSource)
    source.start()
    client = SimpleUDPClient("127.0.0.1", port)
    frame_after(source, lambda: client.send_message(BLEND_APPLY, []), lambda f: True)  # listening now
    yield source, client
    source.stop()


def frame_after(source: VmcSource, send, predicate):
    send_until(send, lambda: (f := source.latest()) is not None and predicate(f))
    return source.latest()


def test_bundles_drive_blink_jaw_and_yaw(vmc, render) -> None:
    source, client = vmc
    send = lambda content: (lambda: client.send(content))  # noqa: E731
    neutral = frame_after(source, send(bundle({"EyeBlinkLeft": 0.0})), lambda f: "eyeBlinkLeft" in f.expressions)
    blinked = frame_after(source, send(bundle({"EyeBlinkLeft": 1.0, "EyeBlinkRight": 1.0})),
                          lambda f: f.expressions.get("eyeBlinkRight") == 1.0)
    opened = frame_after(source, send(bundle({"EyeBlinkLeft": 0.0, "EyeBlinkRight": 0.0, "JawOpen": 1.0})),
                         lambda f: f.expressions.get("jawOpen") == 1.0)
    turned = frame_after(source, send(bundle({"JawOpen": 0.0}, {"Head": yaw_quaternion(30)})),
                         lambda f: f.rotation is not None)
    image = render(neutral)
    check_blink(neutral, blinked, image, render(blinked))
    check_jaw_open(neutral, opened, image, render(opened))
    assert turned.rotation == pytest.approx((0.0, 30.0, 0.0), abs=1e-4)  # Unity +Y: avatar's right
    check_nose_moves(neutral, turned, image, render(turned), direction=-1)
    assert source.state is TrackingState.TRACKING and source.counters.rejected == 0


def test_single_messages_apply_only_on_apply(vmc) -> None:
    source, client = vmc
    published = source.counters.published
    client.send_message(BLEND_VAL, ["jawopen", 0.7])  # lower case: names match case-insensitively
    client.send_message("/VMC/Ext/Root/Pos", ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])  # not needed: ignored
    client.send_message("/some/unknown/address", [1, 2, 3])
    never_within(lambda: source.counters.published > published, 0.3)
    face = frame_after(source, lambda: client.send_message(BLEND_APPLY, []),
                       lambda f: f.expressions.get("jawOpen") == pytest.approx(0.7))
    assert face.valid.all() and face.points.shape == (68, 2)


def test_neck_and_head_compose(vmc) -> None:
    source, client = vmc
    frame = bundle({}, {"Neck": yaw_quaternion(10), "Head": yaw_quaternion(15), "Chest": yaw_quaternion(80)})
    face = frame_after(source, lambda: client.send(frame), lambda f: f.rotation is not None)
    assert face.rotation == pytest.approx((0.0, 25.0, 0.0), abs=1e-4)  # OSC floats are float32


def test_pitch_and_roll_signs(vmc) -> None:
    source, client = vmc
    half = math.radians(20) / 2
    down = (math.sin(half), 0.0, 0.0, math.cos(half))  # Unity +X: forward tips down
    clockwise = (0.0, 0.0, math.sin(half), math.cos(half))  # Unity +Z: avatar's right side up
    face = frame_after(source, lambda: client.send(bundle({}, {"Head": down})),
                       lambda f: f.rotation is not None)
    assert face.rotation == pytest.approx((20.0, 0.0, 0.0), abs=1e-4)  # OSC floats are float32
    face = frame_after(source, lambda: client.send(bundle({}, {"Head": clockwise})),
                       lambda f: f.rotation is not None and abs(f.rotation[2]) > 1)
    assert face.rotation == pytest.approx((0.0, 0.0, 20.0), abs=1e-4)  # OSC floats are float32


def test_wrong_types_are_rejected_with_a_warning(vmc, caplog: pytest.LogCaptureFixture) -> None:
    source, client = vmc
    caplog.set_level(logging.WARNING, logger="rain_vtuber.sources")
    client.send_message(BLEND_VAL, ["JawOpen", "wide"])
    client.send_message(BLEND_VAL, [3, 0.5])
    client.send_message(BONE_POS, ["Head", 0.0, 0.0])
    client.send_message(BONE_POS, ["Head", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # zero quaternion
    wait_until(lambda: source.counters.rejected >= 4, 3)
    assert any("/VMC/Ext/Blend/Val expects" in r.getMessage() for r in caplog.records)
    face = frame_after(source, lambda: client.send_message(BLEND_APPLY, []), lambda f: True)
    assert face.rotation is None and "jawOpen" not in face.expressions


def test_vocabularies_map_to_arkit() -> None:
    assert to_arkit({"Blink_L": 1.0, "blinkRight": 0.5}) == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.5}
    assert to_arkit({"A": 1.0})["jawOpen"] == pytest.approx(0.9)
    assert to_arkit({"aa": 1.0}) == to_arkit({"A": 1.0})
    assert to_arkit({"Blink": 0.8}) == {"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.8}
    assert to_arkit({"happy": 1.0}) == to_arkit({"Joy": 1.0}) and to_arkit({"joy": 1.0})["mouthSmileLeft"] == 1.0
    assert to_arkit({"MOUTHSMILELEFT": 2.0, "mouthSmile_R": -1.0, "NoSuchShape": 1.0, "JawOpen": float("nan")}) == {
        "mouthSmileLeft": 1.0, "mouthSmileRight": 0.0}
    assert np.isclose(to_arkit({"ou": 1.0})["mouthPucker"], 0.9)


def test_precise_names_win_over_combined_ones() -> None:
    # ARKit beats VRM presets, whatever the values; per-side VRM presets beat both-sides ones
    assert to_arkit({"EyeBlinkLeft": 0.2, "Blink_L": 0.9, "Blink": 1.0})["eyeBlinkLeft"] == pytest.approx(0.2)
    assert to_arkit({"Blink_L": 1.0, "Blink_R": 0.0, "Blink": 0.5}) == {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.0}
    assert to_arkit({"blinkLeft": 0.0, "blinkRight": 1.0, "Blink": 0.5}) == {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 1.0}
    assert to_arkit({"jawOpen": 0.1, "A": 1.0, "aa": 1.0})["jawOpen"] == pytest.approx(0.1)
    assert to_arkit({"eyeBlink_R": 0.0, "Blink": 0.9}) == {"eyeBlinkRight": 0.0, "eyeBlinkLeft": pytest.approx(0.9)}
    # the same precedence combines by maximum
    assert to_arkit({"Joy": 0.5, "Fun": 1.0})["mouthSmileLeft"] == pytest.approx(0.8)


def test_a_wink_in_three_vocabularies_stays_a_wink(vmc, render) -> None:
    """An OpenSeeFace-style sender: ARKit, VRM0 per-side and the combined Blink (mean of both) in one frame."""
    source, client = vmc
    open_eyes = {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0, "Blink_L": 0.0, "Blink_R": 0.0, "Blink": 0.0}
    wink = {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.0, "Blink_L": 1.0, "Blink_R": 0.0, "Blink": 0.5,
            "jawOpen": 0.25, "A": 0.25, "aa": 0.25}
    neutral = frame_after(source, lambda: client.send(bundle(open_eyes)), lambda f: "eyeBlinkLeft" in f.expressions)
    winked = frame_after(source, lambda: client.send(bundle(wink)), lambda f: f.expressions["eyeBlinkLeft"] == 1.0)
    assert winked.expressions["eyeBlinkRight"] == 0.0
    assert winked.expressions["jawOpen"] == pytest.approx(0.25)  # ARKit's own value, not A's 0.9 x 0.25
    assert lid_gap(winked.points, "left") < 0.1 * lid_gap(neutral.points, "left")
    assert lid_gap(winked.points, "right") == pytest.approx(lid_gap(neutral.points, "right"))
    image_neutral, image_winked = render(neutral), render(winked)
    assert vertical_span(image_winked, EYE_LEFT) < 0.5 * vertical_span(image_neutral, EYE_LEFT)
    assert vertical_span(image_winked, EYE_RIGHT) == vertical_span(image_neutral, EYE_RIGHT)


def available(*status: int) -> osc_message_builder.OscMessageBuilder:
    return message(AVAILABLE, *status)


def test_tracking_status_0_of_vmc_2_7_is_lost() -> None:
    port = free_port()
    source = open_source(SourceConfig(kind="vmc", host="127.0.0.1", port=port, lost_after_s=30.0))
    source.start()
    client = SimpleUDPClient("127.0.0.1", port)

    def frame(jaw: float, *status: int) -> OscBundle:
        """A VMC 2.7 sender's frame: /VMC/Ext/OK (loaded, calibration state, mode, tracking), values, Apply."""
        builder = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
        builder.add_content(available(*status).build())
        builder.add_content(message(BLEND_VAL, "JawOpen", jaw).build())
        builder.add_content(message(BLEND_APPLY).build())
        return builder.build()

    try:
        frame_after(source, lambda: client.send(frame(0.3, 1, 3, 0, 1)), lambda f: True)
        # silence cannot be the reason (lost_after_s is 30 s): the sender's status is
        send_until(lambda: client.send(frame(0.3, 1, 3, 0, 0)), lambda: source.state is TrackingState.LOST)
        published = source.counters.published
        for _ in range(5):
            client.send(frame(0.9, 1, 3, 0, 0))  # values keep coming while the face is lost
        never_within(lambda: source.counters.published > published, 0.3)
        assert source.state is TrackingState.LOST and source.latest() is None
        # one- and three-int forms (VMC < 2.7) carry no tracking status: they change nothing
        for status in ((1,), (1, 3, 0)):
            client.send(frame(0.9, *status))
        never_within(lambda: source.counters.published > published, 0.3)
        face = frame_after(source, lambda: client.send(frame(0.6, 1, 3, 0, 1)), lambda f: True)
        assert source.state is TrackingState.TRACKING and face.expressions["jawOpen"] == pytest.approx(0.6)
        assert source.counters.rejected == 0
    finally:
        source.stop()


def test_available_with_wrong_types_is_rejected(vmc) -> None:
    source, client = vmc
    for args in ([], ["1"], [1.0, 3, 0, 0], [1, 3, 0, "lost"]):
        client.send(available(*args).build())
    wait_until(lambda: source.counters.rejected >= 4, 3)
    assert frame_after(source, lambda: client.send(bundle({"JawOpen": 0.5})), lambda f: "jawOpen" in f.expressions)
    assert source.state is TrackingState.TRACKING
