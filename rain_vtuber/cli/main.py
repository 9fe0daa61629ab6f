"""Entry point: wires the command modules into one Typer app; errors print as one line."""

from __future__ import annotations

import logging
import os
import sys

import typer

from rain_vtuber import __version__
from rain_vtuber.cli.common import console
from rain_vtuber.errors import RainError

app = typer.Typer(
    name="rain-vtuber",
    help="Real-time diffusion VTuber: your face -> RAIN -> NDI -> OBS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if debug:
        os.environ["RAIN_DEBUG"] = "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    """Import each command module and add it; a module owns one command or group."""
    from rain_vtuber.cli import render, weights

    app.command("render")(render.render)
    app.add_typer(weights.app, name="weights")
    from rain_vtuber.cli import ctl, daemon, doctor

    app.command("daemon")(daemon.daemon)
    app.command("ctl")(ctl.ctl)
    app.command("doctor")(doctor.doctor)
    from rain_vtuber.cli import calibrate

    app.command("calibrate")(calibrate.calibrate)
    from rain_vtuber.cli import pose

    app.command("pose")(pose.pose)
    from rain_vtuber.cli import bench

    app.command("bench")(bench.bench)
    from rain_vtuber.cli import device_check

    app.command("device-check")(device_check.device_check)
    # COMMANDS: add new command modules above this line.


def main() -> None:
    _register()
    try:
        app(standalone_mode=True)
    except RainError as err:
        if os.environ.get("RAIN_DEBUG"):
            raise
        console.print(f"[red]error:[/red] {err}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
