"""PortAudio's input devices: list them, pick one by name or index, see devices plugged in later.

sounddevice is imported here only, on first use, so that settings and calibrations load on a
machine without PortAudio; its absence is a RainError that says what to install.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import ModuleType

from rain_vtuber.errors import RainError

PORTAUDIO_FIX = (
    "install PortAudio: `apt-get install libportaudio2` (Debian/Ubuntu), `dnf install portaudio` (Fedora); "
    "the sounddevice wheels for Windows and macOS include it"
)
lock = threading.RLock()
"""Held while devices are listed, opened or closed, and while PortAudio is restarted."""
_open_streams = 0


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: float
    is_default: bool

    def describe(self) -> str:
        default = ", default" if self.is_default else ""
        return f"{self.index} {self.name} ({self.host_api}, {self.channels} ch, {self.default_rate:g} Hz{default})"


def portaudio() -> ModuleType:
    """The sounddevice module; RainError with the fix when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises OSError('PortAudio library not found')
        raise RainError(f"no microphone support ({err}): {PORTAUDIO_FIX}") from err
    except ImportError as err:
        raise RainError(f"no microphone support ({err}): pip install sounddevice") from err
    return sounddevice


def input_devices() -> list[InputDevice]:
    """Every device with an input channel, in PortAudio's order."""
    sd = portaudio()
    with lock:
        apis = [api["name"] for api in sd.query_hostapis()]
        default = _default_input(sd)
        return [
            InputDevice(d["index"], d["name"], apis[d["hostapi"]], d["max_input_channels"],
                        d["default_samplerate"], d["index"] == default)
            for d in sd.query_devices()
            if d["max_input_channels"] > 0
        ]


def find_input_device(wanted: int | str | None) -> InputDevice:
    """The device for an `input` setting: None or 'default' = the default input, an index, or a
    name (exact first, then a part of it, any case; the default device's host API first).

    A name that matches nothing restarts PortAudio once (a device plugged in since it started)
    before the RainError that lists the input devices.
    """
    for attempt in range(2):
        devices = input_devices()
        found = _match(devices, wanted)
        if found is not None:
            return found
        if attempt == 0 and not refresh():
            break
    listed = "; ".join(d.describe() for d in devices) or "none"
    what = "the default input" if wanted in (None, "default") else f"input {wanted!r}"
    raise RainError(f"no audio input device for {what}; input devices: {listed} (also `rain-vtuber doctor`)")


def refresh() -> bool:
    """Restart PortAudio so that its device list is current; False (nothing done) while a stream is open."""
    sd = portaudio()
    with lock:
        if _open_streams:
            return False
        sd._terminate()  # PortAudio lists devices once, when it starts: the documented way to see new ones
        sd._initialize()
        return True


def opened(delta: int) -> None:
    """Count our open streams (+1 when one opens, -1 when it closes): refresh() waits for none."""
    global _open_streams
    with lock:
        _open_streams += delta


def _match(devices: list[InputDevice], wanted: int | str | None) -> InputDevice | None:
    if wanted is None or (isinstance(wanted, str) and wanted.strip().lower() == "default"):
        return next((d for d in devices if d.is_default), devices[0] if devices else None)
    if isinstance(wanted, int):
        return next((d for d in devices if d.index == wanted), None)
    key = wanted.strip().lower()
    preferred_api = next((d.host_api for d in devices if d.is_default), None)
    ranked = sorted(devices, key=lambda d: d.host_api != preferred_api)  # stable: PortAudio's order within
    return next((d for d in ranked if d.name.lower() == key), None) or next(
        (d for d in ranked if key in d.name.lower()), None
    )


def _default_input(sd: ModuleType) -> int:
    index = sd.default.device[0]  # (input, output); -1 until someone sets it
    if index is None or index < 0:
        try:
            index = sd.query_devices(kind="input")["index"]  # PortAudio's own default input
        except (sd.PortAudioError, ValueError):  # there is none
            return -1
    return int(index)
