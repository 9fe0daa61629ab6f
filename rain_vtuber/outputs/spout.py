"""Spout2 output: one named Spout sender, RGBA with alpha, for receivers on the same Windows PC.

OBS (the Spout2 plugin's "Spout2 Capture" source), VTube Studio, VSeeFace and Warudo read it
with the lowest latency of all outputs: Spout shares the frame as a GPU texture between
processes. It goes through the SpoutGL package (the `spout` extra, Windows only).

Spout shares the texture through OpenGL/DirectX interop and gives up without a current OpenGL
context. Such a context belongs to the thread that made it current, so open() has SpoutGL create
its own hidden one on the output's thread (the runner calls open, write and close there), and
close() releases it there.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Literal

import numpy as np
from pydantic import Field

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings, OutputUnavailable

ON_WINDOWS = sys.platform == "win32"
SPOUTGL_NEWEST_PYTHON = (3, 13)  # SpoutGL 0.1.1 has Windows wheels for Python 3.8-3.13


def import_spoutgl() -> ModuleType:
    """The SpoutGL module; OutputUnavailable, saying what to do, where it cannot run."""
    if not ON_WINDOWS:
        raise OutputUnavailable("Spout2 is Windows-only; on this system use the browser or NDI output instead")
    try:
        import SpoutGL  # imported late: a Windows-only extension module
    except ImportError as err:
        if sys.version_info[:2] > SPOUTGL_NEWEST_PYTHON:
            raise OutputUnavailable(f"Spout2 is not available: SpoutGL has no build for Python "
                                    f"{sys.version_info[0]}.{sys.version_info[1]} yet ({err}); use Python 3.13 "
                                    "or older, or the browser or NDI output") from None
        raise OutputUnavailable(f"Spout2 is not available: the SpoutGL package cannot be imported ({err}); "
                                'install it with `pip install "rain-vtuber[spout]"`') from None
    return SpoutGL


class SpoutSettings(OutputSettings):
    """`outputs: [{kind: spout, sender_name: ...}]`."""

    kind: Literal["spout"] = "spout"
    sender_name: str = Field("RAIN VTuber", min_length=1, max_length=255,
                             description="Spout sender name; receivers (OBS Spout2 Capture, ...) list it")


class SpoutOutput(Output):
    """One Spout sender, sending every frame it is given (repeats too: receivers see the output rate)."""

    settings_model = SpoutSettings
    settings: SpoutSettings

    def __init__(self, settings: SpoutSettings, width: int, height: int, rate: FrameRate) -> None:
        super().__init__(settings, width, height, rate)
        self._spout: Any = None
        self._sender: Any = None
        self.frames_sent = 0

    def open(self) -> None:
        spout = import_spoutgl()
        sender = spout.SpoutSender()
        if not sender.createOpenGL():
            raise RainError("Spout2 could not create an OpenGL context; update the graphics driver "
                            "(Spout needs OpenGL and DirectX 11)")
        sender.setSenderName(self.settings.sender_name)
        self._spout, self._sender = spout, sender

    def write(self, frame: OutputFrame) -> None:
        pixels = np.ascontiguousarray(frame.rgba)  # the frame itself (it is contiguous): no copy
        if not self._sender.sendImage(pixels, frame.width, frame.height, self._spout.enums.GL_RGBA, False, 0):
            raise RainError(f"Spout2 could not send to '{self.settings.sender_name}'; update the graphics "
                            "driver, or choose CPU sharing in SpoutSettings")
        self._sender.setFrameSync(self.settings.sender_name)  # wakes receivers that wait for each frame
        self.frames_sent += 1

    def status(self) -> dict[str, Any]:
        return {"sender_name": self.settings.sender_name, "width": self.width, "height": self.height,
                "frames_sent": self.frames_sent}

    def close(self) -> None:
        """Release the sender (receivers see it go) and the OpenGL context; safe to call twice."""
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.releaseSender()
            sender.closeOpenGL()
