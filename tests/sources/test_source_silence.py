"""A network sender (iFacialMocap app, VMC) that goes silent and comes back: LOST while silent, the
socket kept open, TRACKING again with the first packet. The real timeout (lost_after_s) is shortened
and the silence is three timeouts long, instead of the 30 s a phone takes to wake."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from rain_vtuber.face.state import TrackingState
from rain_vtuber.sources import SourceConfig, open_source
from tests.sources.source_helpers import send_until, wait_until

LOST_AFTER_S = 0.5


def _vmc_packet(jaw: float) -> tuple[bytes, bytes]:
    msg = OscMessageBuilder("/VMC/Ext/Blend/Val")
    msg.add_arg("JawOpen")
    msg.add_arg(jaw)
    apply = OscMessageBuilder("/VMC/Ext/Blend/Apply").build().dgram
    return msg.build().dgram, apply


@pytest.mark.parametrize("kind", ["ifacialmocap", "vmc"])
def test_silent_sender_is_lost_then_recovers_by_itself(kind: str, free_udp_port) -> None:
    port = free_udp_port()
    source = open_source(SourceConfig(kind=kind, host="127.0.0.1", port=port, lost_after_s=LOST_AFTER_S))

    def send(jaw: float) -> None:
        if kind == "vmc":
            for datagram in _vmc_packet(jaw):
                sock.sendto(datagram, ("127.0.0.1", port))
        else:
            sock.sendto(f"jawOpen-{round(jaw * 100)}|=head#0,0,0|".encode(), ("127.0.0.1", port))

    def jaw_is(value: float) -> bool:
        face = source.latest()
        return face is not None and abs(face.expressions.get("jawOpen", -1) - value) < 1e-6

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        source.start()
        try:
            assert send_until(lambda: send(0.25), lambda: jaw_is(0.25), timeout=10)
            silent_from = time.monotonic()
            assert wait_until(lambda: source.state is TrackingState.LOST, timeout=5)
            assert time.monotonic() - silent_from >= LOST_AFTER_S * 0.9
            assert source.latest() is None and source.error is None
            assert not wait_until(lambda: source.state is not TrackingState.LOST, timeout=3 * LOST_AFTER_S)
            assert send_until(lambda: send(0.75), lambda: jaw_is(0.75), timeout=10), "did not recover"
            assert source.running and source.state is TrackingState.TRACKING
        finally:
            source.stop()
