"""Options shared by several commands, and the one place that prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(stderr=True)

WeightsOpt = Annotated[
    Optional[Path],
    typer.Option("--weights", help="Local RAIN weights folder (default: the download cache)."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="RAIN config in the release schema (default: the one in the weights folder)."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="fp32, fp16 or bf16.")]
BackendOpt = Annotated[
    str, typer.Option("--backend", help="auto, torch, torch-compile or tensorrt.")
]
