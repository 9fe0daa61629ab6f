"""`rain-vtuber ctl`: send one control command to a running daemon and print its reply."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from rain_vtuber.daemon.control import DEFAULT_CONTROL_PORT, send_command
from rain_vtuber.errors import RainError

COMMANDS = {
    "character": "/rain/character",
    "next": "/rain/character/next",
    "prev": "/rain/character/prev",
    "pause": "/rain/pause",
    "resume": "/rain/resume",
    "recenter": "/rain/recenter",
    "latency": "/rain/latency",
    "expression": "/rain/expression",
    "reload": "/rain/reload",
    "shutdown": "/rain/shutdown",
    "ping": "/rain/ping",
    "status": "/rain/status",
}


def _expression(args: list[str]) -> tuple[str, list[str]]:
    """`expression clear` | `expression NAME [on|off|toggle]` -> (address, arguments)."""
    if args == ["clear"]:
        return "/rain/expression/clear", []
    if len(args) == 1:
        return "/rain/expression", [args[0], "toggle"]
    if len(args) == 2:
        return "/rain/expression", args
    raise RainError("usage: rain-vtuber ctl expression NAME [on|off|toggle], or ctl expression clear")


def ctl(
    command: Annotated[str, typer.Argument(help=f"One of: {', '.join(COMMANDS)} (or a raw /rain/... address).")],
    args: Annotated[Optional[list[str]], typer.Argument(help="Arguments, e.g. the character name.")] = None,
    port: Annotated[int, typer.Option("--port", help="The daemon's control port.")] = DEFAULT_CONTROL_PORT,
    host: Annotated[str, typer.Option("--host", help="The daemon's PC (its --control-host address).")] = "127.0.0.1",
    token: Annotated[Optional[str], typer.Option("--token", help="The daemon's token, if it has one.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the reply.")] = 3.0,
) -> None:
    """Control a running daemon over OSC (the same protocol the OBS script and Stream Deck use).

    \b
    Examples:
      rain-vtuber ctl status
      rain-vtuber ctl character alice
      rain-vtuber ctl latency low
      rain-vtuber ctl expression smile on        # on | off | toggle (the default)
      rain-vtuber ctl expression clear
      rain-vtuber ctl next --port 9051 --token s3cret
      rain-vtuber ctl status --host 192.168.1.10 --token s3cret
    """
    address = command if command.startswith("/") else COMMANDS.get(command)
    if address is None:
        raise RainError(f"unknown command '{command}'; use one of: {', '.join(COMMANDS)}")
    args = list(args or [])
    if command == "expression":
        address, args = _expression(args)
    status, text = send_command(address, *args, port=port, token=token, timeout=timeout, host=host)
    if status != "ok":
        raise RainError(text)
    typer.echo(json.dumps(json.loads(text), indent=2) if address == "/rain/status" else text)
