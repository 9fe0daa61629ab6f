"""NDI sender: RGB frames -> one named NDI video source at a fixed frame rate.

The caller paces frames (clock_video is off), so NDI never blocks the stream thread. Each frame can carry
the capture time of the face it shows as its NDI timecode (UTC, 100 ns units), so a receiver can see
the face-to-screen latency.
"""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.outputs.ndi_compat import import_ndilib, sender_source_name

log = logging.getLogger(__name__)

PixelFormat = Literal["bgra", "bgrx"]
_runtime_lock = threading.Lock()
_runtime_users = 0


def _acquire_runtime() -> object:
    """Initialise the NDI library once per process (refcounted) and return the module.

    Raises OutputUnavailable where ndi-python is not installed or does not load.
    """
    global _runtime_users
    ndi = import_ndilib()  # imported late: the wheel loads libndi on import

    with _runtime_lock:
        if _runtime_users == 0 and not ndi.initialize():
            raise RainError("NDI runtime failed to initialise: this CPU or OS is not supported by libndi")
        _runtime_users += 1
    return ndi


def _release_runtime(ndi: object) -> None:
    global _runtime_users
    with _runtime_lock:
        _runtime_users -= 1
        if _runtime_users == 0:
            ndi.destroy()


def background_colour(image: np.ndarray, border: int = 4) -> tuple[int, int, int]:
    """HxWx3 uint8 RGB -> the median colour of its outer border (the flat background of a character sheet)."""
    assert image.ndim == 3 and image.shape[2] == 3, f"expected HxWx3 RGB, got {image.shape}"
    edge = np.concatenate(
        [image[:border].reshape(-1, 3), image[-border:].reshape(-1, 3),
         image[:, :border].reshape(-1, 3), image[:, -border:].reshape(-1, 3)]
    )
    return tuple(int(v) for v in np.median(edge, axis=0))  # type: ignore[return-value]


def parse_hex_colour(text: str) -> tuple[int, int, int]:
    """"#RRGGBB" -> (r, g, b)."""
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


NTSC_BASES = (24, 30, 48, 60, 120)  # 23.976, 29.97, 47.952, 59.94, 119.88 fps: N*1000/1001
STANDARD_RATES = [(n, 1) for n in range(1, 121)] + [(n * 1000, 1001) for n in NTSC_BASES]
RATE_TOLERANCE = 0.005  # relative: further from every standard rate than this, the exact fraction is used


def frame_rate(fps: float) -> tuple[int, int]:
    """fps -> NDI (numerator, denominator): the nearest rate OBS offers (60/1, 30000/1001, 24000/1001, ...).

    A rate that is none of those (12.5, 17.3) gets its own small fraction (25/2, 173/10).
    """
    n, d = min(STANDARD_RATES, key=lambda nd: abs(nd[0] / nd[1] - fps))
    if abs(n / d - fps) <= RATE_TOLERANCE * fps:
        return n, d
    ratio = Fraction(fps).limit_denominator(1001)
    return ratio.numerator, ratio.denominator


def timecode(monotonic_ns: int) -> int:
    """A time.monotonic_ns() instant -> NDI timecode: UTC since the Unix epoch in 100 ns units."""
    return (monotonic_ns + time.time_ns() - time.monotonic_ns()) // 100


class NdiSender:
    """One NDI source with a stable name; converts RGB to BGRA/BGRX and can key out a background colour.

    send(rgb) publishes a new frame; resend() repeats the last one, so the caller can keep the source alive
    at its frame rate while there is nothing new (engine warming up, paused, no face).
    """

    def __init__(
        self,
        name: str,
        width: int,
        height: int,
        fps: float,
        pixel_format: PixelFormat = "bgra",
        key_tolerance: int = 24,
    ) -> None:
        self.name = name
        self.width, self.height = width, height
        self.pixel_format = pixel_format
        self.key_tolerance = key_tolerance
        self._key: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._ndi = _acquire_runtime()
        ndi = self._ndi
        create = ndi.SendCreate()
        create.ndi_name = name
        create.clock_video = False
        self._send = ndi.send_create(create)
        if self._send is None:
            _release_runtime(ndi)
            raise RainError(f"could not create the NDI source '{name}' (is the NDI runtime blocked by a firewall?)")
        self._source_name = sender_source_name(ndi, self._send, name)
        self._frame = ndi.VideoFrameV2()
        self._frame.FourCC = ndi.FOURCC_VIDEO_TYPE_BGRA if pixel_format == "bgra" else ndi.FOURCC_VIDEO_TYPE_BGRX
        self.set_fps(fps)
        self._buffer = np.zeros((height, width, 4), np.uint8)
        self._buffer[..., 3] = 255
        self._has_frame = False
        self.frames_sent = 0

    @property
    def source_name(self) -> str:
        """The full name receivers see, "HOST (name)"."""
        with self._lock:
            return self.name if self._send is None else self._source_name

    def set_fps(self, fps: float) -> float:
        """Write the NDI rate nearest `fps` into every frame; returns that rate, which the pacer should keep."""
        n, d = frame_rate(fps)
        self._frame.frame_rate_N, self._frame.frame_rate_D = n, d
        self.fps = n / d
        return self.fps

    def set_key(self, colour: tuple[int, int, int] | None) -> None:
        """Make pixels within key_tolerance of this RGB colour transparent (None: fully opaque)."""
        self._key = colour

    def send(self, rgb: np.ndarray, captured_ns: int | None = None) -> None:
        """HxWx3 uint8 RGB (any size; resized to the output size) -> one NDI frame.

        captured_ns: time.monotonic_ns() when what the frame shows was captured, sent as its timecode
        (and again by resend()); None lets NDI stamp the send time.
        """
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, f"expected HxWx3 uint8, got {rgb.shape}"
        if rgb.shape[:2] != (self.height, self.width):
            shrink = rgb.shape[0] > self.height
            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        with self._lock:
            buf = self._buffer
            buf[..., 0], buf[..., 1], buf[..., 2] = rgb[..., 2], rgb[..., 1], rgb[..., 0]
            key = self._key
            if self.pixel_format == "bgra" and key is not None:
                dist = np.abs(rgb.astype(np.int16) - np.asarray(key, np.int16)).max(axis=2)
                buf[..., 3] = np.where(dist <= self.key_tolerance, 0, 255).astype(np.uint8)
            else:
                buf[..., 3] = 255
            self._frame.timecode = self._ndi.SEND_TIMECODE_SYNTHESIZE if captured_ns is None else timecode(captured_ns)
            self._has_frame = True
            self._publish()

    def resend(self) -> bool:
        """Send the last frame again; False if nothing was ever sent."""
        with self._lock:
            if not self._has_frame:
                return False
            self._publish()
            return True

    def connections(self) -> int:
        """How many receivers are connected right now."""
        with self._lock:
            return 0 if self._send is None else int(self._ndi.send_get_no_connections(self._send, 0))

    def _publish(self) -> None:
        if self._send is None:
            return
        self._frame.data = self._buffer
        self._ndi.send_send_video_v2(self._send, self._frame)
        self.frames_sent += 1

    def close(self) -> None:
        """Destroy the NDI source (receivers see it disappear); safe to call twice."""
        with self._lock:
            if self._send is None:
                return
            self._ndi.send_destroy(self._send)
            self._send = None
        _release_runtime(self._ndi)

    def __enter__(self) -> "NdiSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
