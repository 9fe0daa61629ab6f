"""Spout2 output against a stand-in SpoutGL module that records every call (Spout2 is Windows-only).

The stand-in has SpoutGL's names and argument order (SpoutSender: createOpenGL, setSenderName,
sendImage(pixels, width, height, gl_format, invert, host_fbo), setFrameSync, releaseSender,
closeOpenGL; enums.GL_RGBA) and records which thread made each call: an OpenGL context is the
thread's own, so they must all come from the output's thread.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from rain_vtuber.cli.doctor import check_spout
from rain_vtuber.errors import RainError
from rain_vtuber.outputs import spout
from rain_vtuber.outputs.base import FrameRate, OutputFrame, OutputUnavailable
from rain_vtuber.outputs.registry import OutputEntry, open_output
from rain_vtuber.outputs.runner import OutputRunner
from rain_vtuber.outputs.spout import SpoutOutput, SpoutSettings
from tests.waiting import wait_until

GL_RGBA = 0x1908  # OpenGL's value, as SpoutGL.enums exports it


class StandInSpoutGL(types.ModuleType):
    """A `SpoutGL` module: SpoutSender objects append (thread name, method, args) to `calls`."""

    def __init__(self) -> None:
        super().__init__("SpoutGL")
        self.enums = types.SimpleNamespace(GL_RGBA=GL_RGBA)
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.senders = 0
        self.send_fails: list[bool | Exception] = []  # what the next sendImage calls do instead of succeeding
        self.gl_ok = True
        module = self

        class SpoutSender:
            def __init__(self) -> None:
                module.senders += 1

            def _record(self, method: str, *args: Any) -> None:
                module.calls.append((threading.current_thread().name, method, args))

            def createOpenGL(self) -> bool:
                self._record("createOpenGL")
                return module.gl_ok

            def setSenderName(self, name: str) -> None:
                self._record("setSenderName", name)

            def sendImage(self, pixels: Any, width: int, height: int, gl_format: int, invert: bool, fbo: int) -> bool:
                self._record("sendImage", bytes(memoryview(pixels)), width, height, gl_format, invert, fbo)
                failure = module.send_fails.pop(0) if module.send_fails else None
                if isinstance(failure, Exception):
                    raise failure
                return failure is None

            def setFrameSync(self, name: str) -> None:
                self._record("setFrameSync", name)

            def releaseSender(self) -> None:
                self._record("releaseSender")

            def closeOpenGL(self) -> bool:
                self._record("closeOpenGL")
                return True

        self.SpoutSender = SpoutSender

    def methods(self) -> list[str]:
        return [method for _, method, _ in self.calls]

    def sent(self) -> list[tuple[Any, ...]]:
        return [args for _, method, args in self.calls if method == "sendImage"]


@pytest.fixture
def spoutgl(monkeypatch: pytest.MonkeyPatch) -> StandInSpoutGL:
    module = StandInSpoutGL()
    monkeypatch.setitem(sys.modules, "SpoutGL", module)
    monkeypatch.setattr(spout, "ON_WINDOWS", True)
    monkeypatch.setattr("rain_vtuber.outputs.runner.Backoff.failed", lambda self: 0.01)
    return module


def picture(sequence: int, width: int = 5, height: int = 3, repeat: bool = False) -> OutputFrame:
    rgba = np.random.default_rng(sequence).integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0  # a keyed-out row: alpha travels as it is
    rgba[1:, :, 3] = 255
    return OutputFrame(rgba, captured_ns=None, sequence=sequence, repeat=repeat)


def started(settings: SpoutSettings, width: int = 5, height: int = 3) -> OutputRunner:
    output = open_output(settings, width, height, FrameRate(30))
    assert isinstance(output, SpoutOutput)
    runner = OutputRunner(output, settings.label)
    runner.start()
    wait_until(lambda: runner.state == "running", 2.0, what="the Spout output to open")
    return runner


def test_each_frame_is_one_rgba_image_under_the_sender_name(spoutgl: StandInSpoutGL) -> None:
    runner = started(SpoutSettings(sender_name="Stream Cam"))
    frames = [picture(1), picture(2), picture(2, repeat=True)]
    for count, frame in enumerate(frames, 1):
        runner.offer(frame)
        wait_until(lambda: runner.frames_written == count, 2.0)
    assert runner.status() == {"kind": "spout", "state": "running", "error": None, "frames_written": 3, "dropped": 0,
                               "sender_name": "Stream Cam", "width": 5, "height": 3, "frames_sent": 3}
    runner.close()
    assert spoutgl.methods() == ["createOpenGL", "setSenderName"] + ["sendImage", "setFrameSync"] * 3 + [
        "releaseSender", "closeOpenGL"]
    assert [args for _, method, args in spoutgl.calls if method in ("setSenderName", "setFrameSync")] == [
        ("Stream Cam",)] * 4
    assert [args[1:] for args in spoutgl.sent()] == [(5, 3, GL_RGBA, False, 0)] * 3
    assert [args[0] for args in spoutgl.sent()] == [frame.rgba.tobytes() for frame in frames]
    assert {thread for thread, _, _ in spoutgl.calls} == {"rain-output-spout"}
    assert spoutgl.senders == 1 and runner.state == "closed"


def test_the_default_sender_name_and_the_settings_checks(spoutgl: StandInSpoutGL) -> None:
    runner = started(SpoutSettings())
    runner.close()
    assert ("setSenderName", ("RAIN VTuber",)) in [(method, args) for _, method, args in spoutgl.calls]
    assert {thread for thread, _, _ in spoutgl.calls} == {"rain-output-spout"}
    with pytest.raises(ValueError, match="sender_name"):
        SpoutSettings(sender_name="")
    with pytest.raises(ValueError, match="extra_forbidden"):
        SpoutSettings.model_validate({"kind": "spout", "ndi_name": "x"})
    entry = TypeAdapter(OutputEntry).validate_python({"kind": "spout", "sender_name": "Cam", "name": "spout-2"})
    assert entry == SpoutSettings(sender_name="Cam", name="spout-2") and entry.label == "spout-2"


@pytest.mark.parametrize("failure", [False, RuntimeError("Buffer not large enough")], ids=["returns-false", "raises"])
def test_a_failed_send_is_reported_then_the_runner_opens_a_new_sender(
        spoutgl: StandInSpoutGL, failure: bool | Exception) -> None:
    runner = started(SpoutSettings())
    spoutgl.send_fails.append(failure)
    runner.offer(picture(1))
    wait_until(lambda: spoutgl.senders == 2 and runner.state == "running", 2.0, what="the sender to be reopened")
    assert runner.frames_written == 0
    runner.offer(picture(2))
    wait_until(lambda: runner.frames_written == 1, 2.0)
    runner.close()
    assert spoutgl.methods() == ["createOpenGL", "setSenderName", "sendImage", "releaseSender", "closeOpenGL",
                                 "createOpenGL", "setSenderName", "sendImage", "setFrameSync", "releaseSender",
                                 "closeOpenGL"]
    assert spoutgl.sent()[-1][0] == picture(2).rgba.tobytes()


def test_a_failed_send_says_what_to_do(spoutgl: StandInSpoutGL) -> None:
    output = SpoutOutput(SpoutSettings(), 5, 3, FrameRate(30))
    output.open()
    spoutgl.send_fails.append(False)
    with pytest.raises(RainError, match="Spout2 could not send to 'RAIN VTuber'; update the graphics driver"):
        output.write(picture(1))
    output.close()
    output.close()  # safe twice
    assert spoutgl.methods()[-2:] == ["releaseSender", "closeOpenGL"]


def test_no_opengl_context_is_an_error_that_is_retried(spoutgl: StandInSpoutGL) -> None:
    spoutgl.gl_ok = False
    runner = OutputRunner(SpoutOutput(SpoutSettings(), 5, 3, FrameRate(30)), "spout")
    runner.start()
    wait_until(lambda: runner.state == "error" and spoutgl.methods().count("createOpenGL") >= 2, 2.0)
    assert runner.error == ("Spout2 could not create an OpenGL context; update the graphics driver "
                            "(Spout needs OpenGL and DirectX 11)")
    spoutgl.gl_ok = True
    wait_until(lambda: runner.state == "running", 2.0)
    runner.close()


def test_outside_windows_it_is_unavailable_and_names_the_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spout, "ON_WINDOWS", False)
    runner = OutputRunner(SpoutOutput(SpoutSettings(), 5, 3, FrameRate(30)), "spout")
    runner.start()
    wait_until(lambda: runner.state == "unavailable", 2.0)
    assert runner.error == "Spout2 is Windows-only; on this system use the browser or NDI output instead"
    runner.close()


def test_on_windows_without_the_package_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spout, "ON_WINDOWS", True)
    monkeypatch.setitem(sys.modules, "SpoutGL", None)  # import fails as if the package were not installed
    with pytest.raises(OutputUnavailable) as raised:
        SpoutOutput(SpoutSettings(), 5, 3, FrameRate(30)).open()
    message = str(raised.value)
    assert "\n" not in message
    if sys.version_info[:2] <= spout.SPOUTGL_NEWEST_PYTHON:
        assert message.startswith("Spout2 is not available: the SpoutGL package cannot be imported (")
        assert message.endswith('install it with `pip install "rain-vtuber[spout]"`')
    else:
        assert "use Python 3.13 or older" in message


def test_doctor_sends_one_frame_through_spout(spoutgl: StandInSpoutGL) -> None:
    result = check_spout()
    assert result.status == "pass" and result.detail == "sent one 16x16 RGBA frame as sender 'rain-vtuber doctor'"
    assert spoutgl.methods() == ["createOpenGL", "setSenderName", "sendImage", "setFrameSync", "releaseSender",
                                 "closeOpenGL"]
    spoutgl.send_fails.append(False)
    failed = check_spout()
    assert failed.status == "fail" and failed.detail.startswith("Spout2 could not send")
    assert spoutgl.methods()[-2:] == ["releaseSender", "closeOpenGL"]  # released after a failure too


def test_doctor_without_spoutgl_warns_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spout, "ON_WINDOWS", True)
    monkeypatch.setitem(sys.modules, "SpoutGL", None)
    result = check_spout()
    assert result.status == "warn" and "SpoutGL" in result.detail  # optional: not a failed doctor
    assert result.fix == 'optional, for the spout output: pip install "rain-vtuber[spout]"'
