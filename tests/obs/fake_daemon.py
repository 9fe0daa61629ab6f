"""A stand-in daemon for the supervisor tests: speaks the control protocol with python-osc.

Run as `python fake_daemon.py daemon --control-port N [--characters a,b] [--latency-ms MS]
[--ignore-shutdown] [--ignore-term] [--exit-after S] [--host ADDR --token T]`; it answers /rain/status,
/rain/ping, /rain/character, /rain/latency (low reports half the latency, standard the given one) and
/rain/shutdown, so tests can drive real processes and sockets without loading a model.
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
    parser.add_argument("--latency-ms", type=float, default=80.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    characters = args.characters.split(",")
    active = characters[0]
    latency = args.latency_ms
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.control_port))
    sock.settimeout(0.1)
    print(f"fake daemon listening on {args.control_port}", flush=True)
    started = time.monotonic()
    while not args.exit_after or time.monotonic() - started < args.exit_after:
        try:
            data, sender = sock.recvfrom(65536)
        except socket.timeout:
            continue
        msg = OscMessage(data)
        params = list(msg.params)
        if args.token and (not params or params.pop(0) != args.token):
            _reply(sock, sender, msg.address, "error", "missing or wrong token")
        elif msg.address == "/rain/status":
            status = {
                "state": "streaming",
                "character": active,
                "characters": {name: {"state": "ready", "error": None} for name in characters},
                "output_fps": 12.5,
                "latency_ms_p50": latency,
            }
            _reply(sock, sender, msg.address, "ok", json.dumps(status))
        elif msg.address == "/rain/character" and params and params[0] in characters:
            active = params[0]
            _reply(sock, sender, msg.address, "ok", active)
        elif msg.address == "/rain/latency" and params and params[0] in ("standard", "low"):
            latency = args.latency_ms / (2 if params[0] == "low" else 1)
            _reply(sock, sender, msg.address, "ok", f"latency {params[0]}")
        elif msg.address == "/rain/shutdown":
            _reply(sock, sender, msg.address, "ok", "bye")
            if not args.ignore_shutdown:
                return 0
        else:
            _reply(sock, sender, msg.address, "error", f"unknown {msg.address} {params}")
    print("fake daemon crashed on purpose", flush=True)
    return 3


if __name__ == "__main__":
    sys.exit(main())
