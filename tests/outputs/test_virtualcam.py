"""Virtual camera output through pyvirtualcam itself, with backends registered the library's way.

`pyvirtualcam.register_backend` is pyvirtualcam's extension point: Camera builds the backend with
the size, rate, FourCC and device and hands it every frame. The recording backend keeps what it
gets; the failing one raises on open as a missing or busy camera does.
"""

from __future__ import annotations

import sys
from typing import Any, Iterator, Optional

import numpy as np
import pytest
from pydantic import TypeAdapter

from rain_vtuber.errors import RainError
from rain_vtuber.outputs import virtualcam
from rain_vtuber.outputs.base import FrameRate, OutputFrame, OutputUnavailable
from rain_vtuber.outputs.registry import OutputEntry, open_output
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.virtualcam import VirtualCamOutput, VirtualCamSettings
from tests.conftest import require
from tests.waiting import wait_until

try:
    import pyvirtualcam
except ImportError:
    pyvirtualcam = None

WIDTH, HEIGHT = 6, 4


class RecordingBackend:
    """A pyvirtualcam backend that keeps every camera it was opened as and every frame it was sent."""

    cameras: list["RecordingBackend"] = []
    busy_opens = 0  # how many opens fail first, as when another program holds the camera

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: Optional[str], **kw: Any) -> None:
        if RecordingBackend.busy_opens:
            RecordingBackend.busy_opens -= 1
            raise RuntimeError("Device /dev/video9 is already in use.")
        self.width, self.height, self.fps, self.fourcc, self._device = width, height, fps, fourcc, device
        self.frames: list[np.ndarray] = []
        self.closed = False
        RecordingBackend.cameras.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self._device or "/dev/video9"

    def native_fourcc(self) -> Optional[int]:
        return None


class NoDeviceBackend:
    """A backend that finds no camera, with the words pyvirtualcam's v4l2loopback backend uses."""

    opens = 0

    def __init__(self, **kw: Any) -> None:
        NoDeviceBackend.opens += 1
        raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99]. Did you run 'modprobe v4l2loopback'?")


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    require(None if pyvirtualcam else 'pyvirtualcam is not installed: pip install "rain-vtuber[virtualcam]"')
    pyvirtualcam.register_backend("recording", RecordingBackend)
    pyvirtualcam.register_backend("nodevice", NoDeviceBackend)
    RecordingBackend.cameras, RecordingBackend.busy_opens, NoDeviceBackend.opens = [], 0, 0
    monkeypatch.setattr("rain_vtuber.outputs.runner.Backoff.failed", lambda self: 0.01)
    yield
    del pyvirtualcam.camera.BACKENDS["recording"], pyvirtualcam.camera.BACKENDS["nodevice"]


def picture(sequence: int, repeat: bool = False) -> OutputFrame:
    """A random picture whose left half is keyed out (alpha 0)."""
    rgba = np.random.default_rng(sequence).integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8)
    rgba[:, : WIDTH // 2, 3] = 0
    rgba[:, WIDTH // 2 :, 3] = 255
    return OutputFrame(rgba, captured_ns=None, sequence=sequence, repeat=repeat)


def composited(frame: OutputFrame, colour: tuple[int, int, int]) -> np.ndarray:
    """What the camera must show: the colour on the keyed half, the picture's RGB on the other."""
    expected = frame.rgba[..., :3].copy()
    expected[:, : WIDTH // 2] = colour
    return expected


def shown(camera: RecordingBackend, index: int) -> np.ndarray:
    return camera.frames[index].reshape(camera.height, camera.width, 3)


def started(settings: VirtualCamSettings, rate: FrameRate = FrameRate(30)) -> OutputRunner:
    runner = OutputRunner(open_output(settings, WIDTH, HEIGHT, rate), settings.label)
    runner.start()
    wait_until(lambda: runner.state == "running", 2.0, what=f"the camera to open ({runner.error})")
    return runner


def test_frames_reach_the_camera_as_rgb_with_keyed_pixels_in_the_background_colour(backends: None) -> None:
    runner = started(VirtualCamSettings(backend="recording", background="#FF8000"), FrameRate(30000, 1001))
    (camera,) = RecordingBackend.cameras
    assert (camera.width, camera.height, camera.fps) == (WIDTH, HEIGHT, 30000 / 1001)
    assert pyvirtualcam.util.decode_fourcc(camera.fourcc) == pyvirtualcam.PixelFormat.RGB.value
    frames = [picture(1), picture(2), picture(2, repeat=True)]
    for count, frame in enumerate(frames, 1):
        runner.offer(frame)
        wait_until(lambda: len(camera.frames) == count, 2.0)
    for index, frame in enumerate(frames):
        assert np.array_equal(shown(camera, index), composited(frame, (255, 128, 0)))
    assert runner.status() == {"kind": "virtualcam", "state": "running", "error": None, "frames_written": 3,
                               "dropped": 0, "backend": "recording", "device": "/dev/video9", "width": WIDTH,
                               "height": HEIGHT, "fps": 30000 / 1001, "background": "#FF8000", "frames_sent": 3}
    runner.close()
    assert camera.closed and runner.state == "closed"


def test_the_default_background_is_chroma_green_and_pixels_not_keyed_stay_as_they_are(backends: None) -> None:
    output = VirtualCamOutput(VirtualCamSettings(backend="recording", device="/dev/video3"), WIDTH, HEIGHT,
                              FrameRate(30))
    output.open()
    frame = picture(7)
    output.write(frame)
    (camera,) = RecordingBackend.cameras
    assert camera.device() == "/dev/video3" and output.status()["device"] == "/dev/video3"
    assert np.array_equal(shown(camera, 0), composited(frame, (0, 255, 0)))
    assert np.array_equal(shown(camera, 0)[:, WIDTH // 2 :], frame.rgba[:, WIDTH // 2 :, :3])
    output.close()
    output.close()  # safe twice


def test_a_repeat_of_a_picture_never_composited_shows_that_picture(backends: None) -> None:
    """The runner may drop a new picture and hand over its repeat: the repeat must not show the one before."""
    output = VirtualCamOutput(VirtualCamSettings(backend="recording"), WIDTH, HEIGHT, FrameRate(30))
    output.open()
    output.write(picture(1))
    output.write(picture(2, repeat=True))
    (camera,) = RecordingBackend.cameras
    assert np.array_equal(shown(camera, 1), composited(picture(2), (0, 255, 0)))
    with pytest.raises(RainError, match="frame of 3x2 for a 6x4 virtual camera"):
        output.write(OutputFrame(np.zeros((2, 3, 4), np.uint8), captured_ns=None, sequence=3))
    output.close()


def test_a_rate_change_reopens_the_camera_at_the_new_rate(backends: None) -> None:
    runner = started(VirtualCamSettings(backend="recording"), FrameRate(30))
    runner.set_rate(FrameRate(24))
    runner.offer(picture(1))
    wait_until(lambda: len(RecordingBackend.cameras) == 2 and RecordingBackend.cameras[1].frames, 2.0)
    first, second = RecordingBackend.cameras
    assert first.closed and not first.frames and second.fps == 24 and not second.closed
    runner.set_rate(FrameRate(24))  # the same rate: the camera stays open
    runner.offer(picture(2))
    wait_until(lambda: len(second.frames) == 2, 2.0)
    assert len(RecordingBackend.cameras) == 2
    runner.close()
    assert second.closed


def test_no_camera_is_one_line_naming_what_to_install_and_is_retried(backends: None) -> None:
    runner = OutputRunner(VirtualCamOutput(VirtualCamSettings(backend="nodevice"), WIDTH, HEIGHT, FrameRate(30)),
                          "virtualcam")
    runner.start()
    wait_until(lambda: runner.state == "error" and NoDeviceBackend.opens >= 3, 2.0, what="three tries")
    assert runner.error == (
        "no virtual camera to send to ('nodevice' backend: No v4l2 loopback device found at /dev/video[0-99]. "
        f"Did you run 'modprobe v4l2loopback'?); if there is none, {virtualcam.install_hint()}; "
        "if another program holds it, close that program")
    runner.close()


@pytest.mark.parametrize("platform, words", [("linux", "v4l2loopback-dkms"), ("win32", "OBS Virtual Camera"),
                                             ("darwin", "OBS Studio 30 or newer")])
def test_the_install_hint_fits_the_system(platform: str, words: str) -> None:
    assert words in virtualcam.install_hint(platform)


def test_a_camera_another_program_holds_is_retried_until_it_is_free(backends: None) -> None:
    RecordingBackend.busy_opens = 2
    runner = started(VirtualCamSettings(backend="recording"))
    runner.offer(picture(1))
    wait_until(lambda: len(RecordingBackend.cameras) == 1 and RecordingBackend.cameras[0].frames, 2.0)
    assert runner.error is None and runner.frames_written == 1 and RecordingBackend.busy_opens == 0
    runner.close()


def test_a_backend_this_system_lacks_is_unavailable_not_retried(backends: None) -> None:
    runner = OutputRunner(VirtualCamOutput(VirtualCamSettings(backend="unitycapture"), WIDTH, HEIGHT, FrameRate(30)),
                          "virtualcam")
    runner.start()
    wait_until(lambda: runner.state == "unavailable", 2.0)
    assert runner.error.startswith("there is no virtual camera backend 'unitycapture' on this system (here: ")
    assert "recording" in runner.error and runner.error.endswith("leave `backend` unset to take the first that works")
    runner.close()


def test_without_pyvirtualcam_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    with pytest.raises(OutputUnavailable, match=r'install it with `pip install "rain-vtuber\[virtualcam\]"`$'):
        VirtualCamOutput(VirtualCamSettings(), WIDTH, HEIGHT, FrameRate(30)).open()


@pytest.mark.parametrize("background", ["#00FF0", "00FF00", "green", "#00GG00"])
def test_the_background_must_be_a_hex_colour(background: str) -> None:
    with pytest.raises(ValueError, match="background"):
        VirtualCamSettings(background=background)


def test_settings_defaults_and_unknown_keys() -> None:
    settings = VirtualCamSettings()
    assert (settings.backend, settings.device, settings.background, settings.background_rgb) == (
        None, None, "#00FF00", (0, 255, 0))
    assert VirtualCamSettings(background="#1a2B3c").background_rgb == (0x1A, 0x2B, 0x3C)
    with pytest.raises(ValueError, match="extra_forbidden"):
        VirtualCamSettings.model_validate({"kind": "virtualcam", "alpha": True})
    entry = TypeAdapter(OutputEntry).validate_python({"kind": "virtualcam", "device": "/dev/video2"})
    assert entry == VirtualCamSettings(device="/dev/video2")
