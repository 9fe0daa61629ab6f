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
    "reload": "/rain/reload",
    "shutdown": "/rain/shutdown",
    "ping": "/rain/ping",
    "status": "/rain/status",
}

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
      rain-vtuber ctl next --port 9051 --token s3cret
      rain-vtuber ctl status --host 192.168.1.10 --token s3cret
    """
    address = command if command.startswith("/") else COMMANDS.get(command)
    if address is None:
        raise RainError(f"unknown command '{command}'; use one of: {', '.join(COMMANDS)}")
    status, text = send_command(address, *(args or []), port=port, token=token, timeout=timeout, host=host)
    if status != "ok":
        raise RainError(text)
    typer.echo(json.dumps(json.loads(text), indent=2) if address == "/rain/status" else text)
