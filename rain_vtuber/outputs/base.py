"""What every output shares: the frame it is handed, its rate, its settings and its interface.

An output is one file: a settings model (a pydantic model with a `kind` literal, unknown keys an
error) and an `Output` subclass, added to `registry.OUTPUTS` with one line. The output stage
(stage.py) sizes, keys and paces the frames once for all of them; each output runs on its own
thread behind a newest-frame-wins slot (runner.py), so a slow or failing output never stalls the
engine or another output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rain_vtuber.errors import RainError

NTSC_BASES = (24, 30, 48, 60, 120)  # 23.976, 29.97, 47.952, 59.94, 119.88 fps: N*1000/1001
STANDARD_RATES = [(n, 1) for n in range(1, 121)] + [(n * 1000, 1001) for n in NTSC_BASES]
RATE_TOLERANCE = 0.005  # relative: further from every standard rate than this, the exact fraction is used


@dataclass(frozen=True)
class FrameRate:
    """An output frame rate as a fraction (what NDI and OBS write: 60/1, 30000/1001, 25/2)."""

    numerator: int
    denominator: int = 1

    @property
    def fps(self) -> float:
        return self.numerator / self.denominator

    @classmethod
    def nearest(cls, fps: float) -> "FrameRate":
        """fps -> the nearest rate OBS offers (60/1, 30000/1001, 24000/1001, ...).

        A rate that is none of those (12.5, 17.3) gets its own small fraction (25/2, 173/10).
        """
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        n, d = min(STANDARD_RATES, key=lambda nd: abs(nd[0] / nd[1] - fps))
        if abs(n / d - fps) <= RATE_TOLERANCE * fps:
            return cls(n, d)
        ratio = Fraction(fps).limit_denominator(1001)
        return cls(ratio.numerator, ratio.denominator)


@dataclass(frozen=True)
class OutputFrame:
    """One frame as every output gets it.

    rgba: (H, W, 4) uint8 RGBA at the output size; alpha is 0 where the background was keyed out,
      255 elsewhere. Shared by all outputs: read it, never write into it.
    captured_ns: time.monotonic_ns() when the face it shows was captured; None for a picture that
      shows no face (the character's reference picture before the stream is up).
    sequence: counts new pictures; a repeat keeps the number of the picture it repeats.
    repeat: the same picture as the frame before (nothing new from the engine this period). Outputs
      that must keep a rate (NDI, a virtual camera) send it; others may skip it.
    """

    rgba: np.ndarray
    captured_ns: int | None
    sequence: int
    repeat: bool = False

    def __post_init__(self) -> None:
        rgba = self.rgba
        if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
            raise ValueError(f"OutputFrame.rgba must be (H, W, 4) uint8, got {rgba.shape} {rgba.dtype}")

    @classmethod
    def opaque(cls, rgb: np.ndarray, sequence: int = 0, captured_ns: int | None = None) -> "OutputFrame":
        """An (H, W, 3) uint8 RGB picture with nothing keyed out (what the offline commands write)."""
        rgba = np.empty((*rgb.shape[:2], 4), np.uint8)
        rgba[..., :3] = rgb
        rgba[..., 3] = 255
        return cls(rgba, captured_ns, sequence)

    @property
    def width(self) -> int:
        return int(self.rgba.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgba.shape[0])


class OutputSettings(BaseModel):
    """Settings every output kind has; each kind subclasses this with `kind: Literal["<kind>"]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: Optional[str] = Field(None, min_length=1, description="status key of this output; default: its kind")

    @property
    def label(self) -> str:
        """The name this output is reported under in /rain/status."""
        return self.name or self.kind


class OutputUnavailable(RainError):
    """The output cannot run on this system at all (its library has no build here): not retried."""


class Output(ABC):
    """One destination for frames.

    The runner calls open(), then write() once per frame, set_rate() when the rate changes and
    close() at the end, all on the output's own thread; status() may be called from any thread.
    open() and write() raise on failure: RainError with a one-line fix for conditions the user can
    fix (the runner reports it, closes the output and opens it again with backoff), OutputUnavailable
    when the output can never run here (reported, never retried).
    """

    settings_model: ClassVar[type[OutputSettings]]

    def __init__(self, settings: OutputSettings, width: int, height: int, rate: FrameRate) -> None:
        self.settings = settings
        self.width, self.height = width, height
        self.rate = rate

    @abstractmethod
    def open(self) -> None:
        """Acquire what the output needs (device, port, library); may be called again after close()."""

    @abstractmethod
    def write(self, frame: OutputFrame) -> None:
        """Deliver one frame (at most about a frame period of blocking)."""

    def set_rate(self, rate: FrameRate) -> None:
        """The output rate changed (once, when the engine speed is known); also called while closed."""
        self.rate = rate

    def close(self) -> None:
        """Release everything open() acquired; safe to call twice and before open()."""

    def status(self) -> dict[str, Any]:
        """What this kind can tell about itself (a name, a URL, connections), merged into its status."""
        return {}
