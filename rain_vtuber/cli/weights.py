"""`rain-vtuber weights`: download the RAIN release into the cache (or a folder) and show where it is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rain_vtuber.cli.common import console

app = typer.Typer(help="Download and locate the RAIN-v0.1 release weights.", no_args_is_help=True)

DirOpt = Annotated[
    Optional[Path],
    typer.Option("--dir", help="Weights folder (default: $RAIN_VTUBER_HOME/weights or the user cache)."),
]


@app.command()
def download(
    folder: DirOpt = None,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", help="Just these parts (repeatable), e.g. face_landmarker for the face tracker."),
    ] = None,
) -> None:
    """Fetch the release (about 10 GB; resumable, skips verified files) and check that it loads."""
    from rain_vtuber.errors import RainError
    from rain_vtuber.weights import RELEASE, download_release

    names = [c.name for c in RELEASE]
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise RainError(f"--only {', '.join(unknown)}: not a part of the release; pick from {', '.join(names)}")
    done = download_release(folder, [c for c in RELEASE if not only or c.name in only])
    console.print(f"[green]RAIN weights ready[/green] in {done}")


@app.command()
def path(folder: DirOpt = None) -> None:
    """Print the weights folder (what --weights defaults to)."""
    from rain_vtuber.weights import default_weights_dir

    typer.echo(folder or default_weights_dir())
