"""A stand-in daemon for the OBS script tests: speaks the control protocol with python-osc.

Run as `python fake_daemon.py daemon --control-port N [--characters a,b] [--latency-ms MS]
[--expressions extra,...] [--outputs ndi,browser] [--command-log FILE] [--ignore-shutdown]
[--ignore-term] [--exit-after S] [--host ADDR --token T]`; it answers /rain/status, /rain/character,
/rain/latency (low reports half the latency, standard the given one), /rain/expression NAME
on|off|toggle, /rain/expression/clear and /rain/shutdown, so tests can drive real processes and
sockets without loading a model. --command-log appends every command it receives (address and
arguments, token removed) as one JSON line, for tests that check exactly what was sent.
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


def command(port: int, *flags: str) -> list[str]:
    """The argv that runs this stand-in on control port `port` (for tests that start it themselves)."""
    return [sys.executable, __file__, "daemon", "--control-port", str(port), *flags]


def _reply(sock: socket.socket, sender: tuple, command: str, status: str, text: str) -> None:
    builder = OscMessageBuilder("/rain/reply")
    for arg in (command, status, text):
        builder.add_arg(arg)
    sock.sendto(builder.build().dgram, sender)


BUILTIN_EXPRESSIONS = ["wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry"]
BROWSER_URL = "http://127.0.0.1:9070/"


def _outputs(kinds: list[str], control_port: int) -> dict:
    """The status's `outputs` as the daemon reports them (512x512, running)."""
    described = {
        "ndi": {"kind": "ndi", "state": "running", "name": f"FAKEHOST (RAIN fake {control_port})"},
        "browser": {"kind": "browser", "state": "running", "url": BROWSER_URL},
    }
    return {kind: dict(described[kind], width=512, height=512) for kind in kinds}


def _expression(params: list, available: list[str], active: set[str]) -> tuple[str, str]:
    """/rain/expression NAME on|off|toggle -> (ok|error, text), switching `active` in place."""
    if len(params) != 2 or params[1] not in ("on", "off", "toggle"):
        return "error", "usage: /rain/expression NAME on|off|toggle"
    name, mode = params
    if name not in available:
        return "error", f"unknown expression {name!r}; known: {', '.join(available)}"
    on = name not in active if mode == "toggle" else mode == "on"
    (active.add if on else active.discard)(name)
    return "ok", f"{name} {'on' if on else 'off'}"


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
    parser.add_argument("--expressions", default="", help="the character's extra expressions, a,b")
    parser.add_argument("--outputs", default="ndi", help="output kinds it reports: ndi, browser")
    parser.add_argument("--command-log", default="")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    characters = args.characters.split(",")
    active = characters[0]
    latency = args.latency_ms
    expressions = BUILTIN_EXPRESSIONS + [name for name in args.expressions.split(",") if name]
    active_expressions: set[str] = set()
    outputs = _outputs([kind for kind in args.outputs.split(",") if kind], args.control_port)
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
            continue
        if args.command_log and msg.address != "/rain/status":
            with open(args.command_log, "a") as log:
                log.write(json.dumps([msg.address, *params]) + "\n")
        if msg.address == "/rain/status":
            status = {
                "state": "streaming",
                "character": active,
                "characters": {name: {"state": "ready", "error": None} for name in characters},
                "output_fps": 12.5,
                "latency_ms_p50": latency,
                "expressions": {"available": expressions, "active": sorted(active_expressions)},
                "face_driver": "tracking",
                "outputs": outputs,
            }
            if "ndi" in outputs:
                status["ndi"] = {"name": outputs["ndi"]["name"], "width": 512, "height": 512}  # for older scripts
            _reply(sock, sender, msg.address, "ok", json.dumps(status))
        elif msg.address == "/rain/expression":
            _reply(sock, sender, msg.address, *_expression(params, expressions, active_expressions))
        elif msg.address == "/rain/expression/clear":
            active_expressions.clear()
            _reply(sock, sender, msg.address, "ok", "expressions cleared")
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
