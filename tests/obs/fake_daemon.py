"""A stand-in daemon for the supervisor tests: speaks the control protocol with python-osc.

Run as `python fake_daemon.py daemon --control-port N [--characters a,b] [--ignore-shutdown]
[--ignore-term] [--exit-after S]`; it answers /rain/status, /rain/ping, /rain/character and
/rain/shutdown and /rain/latency (standard 80 ms, low 40 ms), so tests can drive real processes and sockets without loading a model.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


LATENCY_MS = {"standard": 80.0, "low": 40.0}

def _reply(sock: socket.socket, sender: tuple, command: str, status: str, text: str) -> None:
    builder = OscMessageBuilder("/rain/reply")
    for arg in (command, status, text):
        builder.add_arg(arg)
    sock.sendto(builder.build().dgram, sender)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["daemon"])
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--config", default="")
    parser.add_argument("--characters", default="alice,bob")
    parser.add_argument("--ignore-shutdown", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-after", type=float, default=0.0)
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    characters = args.characters.split(",")
    active = characters[0]
    latency = "standard"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.control_port))
    sock.settimeout(0.1)
    print(f"fake daemon listening on {args.control_port}", flush=True)
    started = time.monotonic()
    while not args.exit_after or time.monotonic() - started < args.exit_after:
        try:
            data, sender = sock.recvfrom(65536)
        except socket.timeout:
            continue
        msg = OscMessage(data)
        if msg.address == "/rain/status":
            status = {
                "state": "streaming",
                "character": active,
                "characters": {name: {"state": "ready", "error": None} for name in characters},
                "output_fps": 12.5,
                "latency": latency,
                "latency_ms_p50": LATENCY_MS[latency],
            }
            _reply(sock, sender, msg.address, "ok", json.dumps(status))
        elif msg.address == "/rain/character" and msg.params and msg.params[0] in characters:
            active = msg.params[0]
            _reply(sock, sender, msg.address, "ok", active)
        elif msg.address == "/rain/latency" and msg.params and msg.params[0] in LATENCY_MS:
            latency = msg.params[0]
            _reply(sock, sender, msg.address, "ok", f"latency {latency}")
        elif msg.address == "/rain/shutdown":
            _reply(sock, sender, msg.address, "ok", "bye")
            if not args.ignore_shutdown:
                return 0
        else:
            _reply(sock, sender, msg.address, "error", f"unknown {msg.address} {msg.params}")
    print("fake daemon crashed on purpose", flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(main())
