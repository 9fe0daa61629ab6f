"""Virtual camera output: the character as a webcam for Discord, Zoom, Meet and the like.

Through pyvirtualcam (the `virtualcam` extra; GPL-2.0, so optional and imported only here): OBS
Virtual Camera or Unity Capture on Windows, the OBS camera extension on macOS, v4l2loopback on
Linux. A webcam has no alpha, so keyed-out pixels are painted in the `background` colour (green
by default, for a chroma key), once per new picture; a repeat sends the same composite again.
pyvirtualcam fixes the frame rate when the camera opens, so a rate change reopens the camera.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, Literal, Optional

import cv2
import numpy as np
from pydantic import Field

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks.picture import parse_hex_colour
from rain_vtuber.outputs.base import FrameRate, Output, OutputFrame, OutputSettings, OutputUnavailable

INSTALL_HINTS = {  # sys.platform -> what gives this OS a virtual camera
    "linux": "install v4l2loopback (`sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback "
             "exclusive_caps=1 card_label=\"RAIN VTuber\"`)",
    "win32": "install OBS Studio 26 or newer (its OBS Virtual Camera) or Unity Capture",
    "darwin": "install OBS Studio 30 or newer and click Start Virtual Camera once to install its camera extension",
}


def install_hint(platform: str = sys.platform) -> str:
    return INSTALL_HINTS.get(platform, "install a virtual camera pyvirtualcam supports")


def import_pyvirtualcam() -> ModuleType:
    """The pyvirtualcam module; OutputUnavailable with the install command when it is missing."""
    try:
        import pyvirtualcam  # imported late: GPL-2.0, an optional extra
    except ImportError as err:
        raise OutputUnavailable(f"the virtual camera is not available: the pyvirtualcam package cannot be "
                                f'imported ({err}); install it with `pip install "rain-vtuber[virtualcam]"`') from None
    return pyvirtualcam


class VirtualCamSettings(OutputSettings):
    """`outputs: [{kind: virtualcam, background: "#00FF00", ...}]`."""

    kind: Literal["virtualcam"] = "virtualcam"
    backend: Optional[str] = Field(None, min_length=1, description="pyvirtualcam backend: obs or unitycapture "
                                   "(Windows), obs (macOS), v4l2loopback (Linux); default: the first that works")
    device: Optional[str] = Field(None, min_length=1, description="camera to use: /dev/videoN (Linux), "
                                  "'Unity Video Capture' (Windows), ...; default: the first free one")
    background: str = Field("#00FF00", pattern=r"^#[0-9A-Fa-f]{6}$",
                            description="#RRGGBB painted where the background was keyed out (a webcam has no alpha)")

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        return parse_hex_colour(self.background)


class VirtualCamOutput(Output):
    """One virtual camera at the output size and rate, RGB, sent every frame it is given."""

    settings_model = VirtualCamSettings
    settings: VirtualCamSettings

    def __init__(self, settings: VirtualCamSettings, width: int, height: int, rate: FrameRate) -> None:
        super().__init__(settings, width, height, rate)
        self._camera: Any = None
        self._rgb = np.empty((height, width, 3), np.uint8)  # the composite the camera is sent
        self._shown: int | None = None  # sequence of the picture in _rgb
        self._background = np.empty_like(self._rgb)
        self._background[:] = settings.background_rgb
        self._alpha = np.empty((height, width), np.uint8)
        self._keyed = np.empty((height, width), np.uint8)
        self.backend: str | None = None
        self.device: str | None = settings.device
        self.frames_sent = 0

    def open(self) -> None:
        pyvirtualcam = import_pyvirtualcam()
        backend = self.settings.backend
        known = pyvirtualcam.camera.BACKENDS
        if backend is not None and backend not in known:
            raise OutputUnavailable(f"there is no virtual camera backend '{backend}' on this system (here: "
                                    f"{', '.join(known) or 'none'}); "
                                    "leave `backend` unset to take the first that works")
        try:
            camera = pyvirtualcam.Camera(self.width, self.height, self.rate.fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                         device=self.settings.device, backend=backend)
        except Exception as err:  # RuntimeError with one line per backend tried, saying why it failed
            reason = "; ".join(line for line in str(err).splitlines() if line.strip()) or type(err).__name__
            raise RainError(f"no virtual camera to send to ({reason}); if there is none, {install_hint()}; "
                            "if another program holds it, close that program") from None
        self._camera, self.backend, self.device = camera, camera.backend, camera.device

    def set_rate(self, rate: FrameRate) -> None:
        changed = rate != self.rate
        super().set_rate(rate)
        if changed and self._camera is not None:  # pyvirtualcam takes the rate only when a camera opens
            self.close()
            self.open()

    def write(self, frame: OutputFrame) -> None:
        if frame.rgba.shape[:2] != self._rgb.shape[:2]:
            raise RainError(f"frame of {frame.width}x{frame.height} for a {self.width}x{self.height} virtual camera")
        if frame.sequence != self._shown:  # a repeat of the picture already composited is sent as it is
            self._composite(frame.rgba)
            self._shown = frame.sequence
        self._camera.send(self._rgb)
        self.frames_sent += 1

    def _composite(self, rgba: np.ndarray) -> None:
        """(H, W, 4) RGBA uint8 -> self._rgb: the picture where alpha is 255, `background` where it is 0."""
        cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB, dst=self._rgb)
        cv2.extractChannel(rgba, 3, dst=self._alpha)
        cv2.compare(self._alpha, 0, cv2.CMP_EQ, dst=self._keyed)
        cv2.copyTo(self._background, self._keyed, dst=self._rgb)

    def status(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "width": self.width, "height": self.height,
                "fps": self.rate.fps, "background": self.settings.background, "frames_sent": self.frames_sent}

    def close(self) -> None:
        """Release the camera (apps showing it see it stop); safe to call twice."""
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()
