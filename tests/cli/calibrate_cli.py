"""`rain-vtuber calibrate` in process for the CLI tests: the command as the real CLI names it, and a photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import typer
from skimage import data
from typer.testing import CliRunner, Result

from rain_vtuber.cli.calibrate import calibrate

app = typer.Typer()
app.command()(calibrate)
app.command("unused")(lambda: None)  # two commands keep "calibrate" as a sub-command name, like the real CLI


def invoke(*args: str | Path | int) -> Result:
    """`rain-vtuber calibrate ARGS...` (a wide terminal: no wrapped messages)."""
    return CliRunner().invoke(app, ["calibrate", *map(str, args)], env={"COLUMNS": "400"})


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """scikit-image's cat photo as a PNG under tmp_path/inputs."""
    path = tmp_path / "inputs" / "cat.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), data.chelsea()[..., ::-1])
    return path
