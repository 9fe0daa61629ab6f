"""The calibration page in a real headless browser (Debian's chromium driven by Playwright).

Install: `apt-get install -y chromium` and `pip install playwright` (no Playwright browser download).
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient
from skimage import data

from rain_vtuber.audio import AudioCalibration, AudioSettings
from rain_vtuber.calibrate import CalibrateRequest, Running, character_files, start
from rain_vtuber.landmarks import Calibration, load_calibration
from rain_vtuber.sources import SourceConfig
from rain_vtuber.utils.ports import free_port
from tests.browser_viewers import launch, missing_chromium
from tests.conftest import requires
from tests.microphone import ROOM_TONE_DB, Pulse, envelope_db, espeak, pulse, pulse_server  # noqa: F401

pytestmark = [requires(missing_chromium()), pytest.mark.e2e]  # Chromium on the calibration page


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch()


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    cv2.imwrite(str(path), data.chelsea()[..., ::-1])
    return path


@pytest.fixture
def face_video(tmp_path: Path) -> Path:
    """Two seconds of the scikit-image astronaut (a real face) as an mp4."""
    path = tmp_path / "face.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (512, 512))
    frame = np.ascontiguousarray(data.astronaut()[..., ::-1])
    for _ in range(60):
        writer.write(frame)
    writer.release()
    assert path.stat().st_size > 1000
    return path


def _run(request: CalibrateRequest) -> Iterator[Running]:
    running = start(request)
    try:
        yield running
    finally:
        running.stop()


def _open(browser: object, running: Running):  # -> playwright Page
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(running.url)
    page.wait_for_selector("body[data-ready='1']", timeout=10_000)
    page.wait_for_function("document.querySelector('#overlay').src.startsWith('blob:')", timeout=10_000)
    return page, errors


def _displayed(page, selector: str) -> bytes:
    """The exact bytes of the image the page shows right now."""
    b64 = page.evaluate(
        """async (sel) => {
            const buf = await (await fetch(document.querySelector(sel).src)).arrayBuffer();
            let s = ""; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
            return btoa(s);
        }""",
        selector,
    )
    return base64.b64decode(b64)


def _settled(page, selector: str) -> bytes:
    """The displayed image once it stops changing (the renderer eases dots for a moment)."""
    last = _displayed(page, selector)
    for _ in range(40):
        page.wait_for_timeout(300)
        now = _displayed(page, selector)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{selector} never settled")


def _save(page) -> None:
    page.click("#save")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('saved')", timeout=10_000)


def test_slider_drag_and_save_change_the_yaml(browser: object, tmp_path: Path, reference: Path) -> None:
    files = character_files(tmp_path, "cat")
    for running in _run(CalibrateRequest(files, image=reference)):
        page, errors = _open(browser, running)
        before_yaml = load_calibration(files.calibration)
        assert before_yaml == Calibration()
        overlay_before = _settled(page, "#overlay")
        pose_before = _settled(page, "#pose")

        # a slider, moved with the keyboard like a user would: +0.20 face scale
        page.focus("#param-framing-scale")
        with page.expect_response(lambda r: "/api/params" in r.url):
            for _ in range(20):
                page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "Math.abs(Number(document.querySelector('#param-framing-scale').value) - 1.2) < 1e-6", timeout=5_000
        )
        page.wait_for_timeout(500)  # the last throttled request lands
        assert running.session.calibration.framing.scale == pytest.approx(1.2)
        overlay_after = _settled(page, "#overlay")
        assert overlay_after != overlay_before
        assert _settled(page, "#pose") != pose_before
        # and the dots really grew: the pose image's dot spread follows the scale
        spread = [_dot_spread(img) for img in (pose_before, _displayed(page, "#pose"))]
        assert spread[1] / spread[0] == pytest.approx(1.2, rel=0.08)

        # drag the face box 80 px right and 40 px down, grabbing it away from the anchors and corners
        box = page.locator("#box").bounding_box()
        stage = page.locator("#stage").bounding_box()
        cx, cy = box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.2
        page.mouse.move(cx, cy)
        page.mouse.down()
        with page.expect_response(lambda r: "/api/frame" in r.url) as response:
            page.mouse.move(cx + 40, cy + 20, steps=4)
            page.mouse.move(cx + 80, cy + 40, steps=4)
            page.mouse.up()
        assert response.value.ok
        framing = running.session.calibration.framing
        assert framing.center_x == pytest.approx(0.5 + 80 / stage["width"], abs=0.02)
        assert framing.center_y == pytest.approx(0.5 + 40 / stage["height"], abs=0.03)
        moved = page.locator("#box").bounding_box()
        assert moved["x"] == pytest.approx(box["x"] + 80, abs=12)

        # drag the left-eye anchor outwards: the eyes move apart
        spacing = running.session.calibration.shape.eye_distance_correction
        eye = page.locator("[data-anchor='left_eye']").bounding_box()
        ex, ey = eye["x"] + eye["width"] / 2, eye["y"] + eye["height"] / 2
        page.mouse.move(ex, ey)
        page.mouse.down()
        with page.expect_response(lambda r: "/api/frame" in r.url):
            page.mouse.move(ex + 25, ey, steps=5)
            page.mouse.up()
        assert running.session.calibration.shape.eye_distance_correction > spacing + 0.02

        _save(page)
        saved = load_calibration(files.calibration)  # validates
        assert saved == running.session.calibration
        assert saved.framing.center_x > 0.55 and saved.framing.center_y > 0.53
        assert files.calibration.with_name("cat.yaml.bak").exists()
        # no microphone: the page says how to get one, and the lip-sync steps are not offered
        assert page.is_hidden("#audio-panel")
        assert "start calibrate with --audio DEVICE" in page.text_content("#audio-note")
        assert errors == []
        page.close()


def test_record_neutral_from_a_video_and_save(
    browser: object, tmp_path: Path, reference: Path, face_video: Path
) -> None:
    files = character_files(tmp_path, "cat")
    source = SourceConfig(kind="video", path=face_video, loop=True, realtime=True)
    for running in _run(CalibrateRequest(files, image=reference, source=source, countdown_s=1.0)):
        page, errors = _open(browser, running)
        page.wait_for_function("document.querySelector('#source').textContent.endsWith('tracking')", timeout=15_000)
        page.click("button[data-step='neutral']")
        page.wait_for_selector("#countdown:not([hidden])", timeout=5_000)
        page.wait_for_selector("body[data-record-phase='done']", timeout=20_000)
        assert "recorded neutral face" in page.text_content("#recording")
        _save(page)

        saved = load_calibration(files.calibration)
        default = Calibration()
        assert saved.expressions.eye_open != default.expressions.eye_open
        assert saved.expressions.mouth_closed != default.expressions.mouth_closed
        # recentred on the astronaut's face, which sits left of and above the frame centre
        assert saved.framing.neutral_x < 0.5 and saved.framing.neutral_y < 0.5
        assert saved.framing.scale != default.framing.scale  # refitted to keep the face box
        assert errors == []
        page.close()
        box = running.session.frame().vector()

    # reopening (no --image) shows the same face box: the recorded neutral face was kept
    assert files.neutral.is_file()
    for reopened in _run(CalibrateRequest(files)):
        assert reopened.session.calibration == saved
        assert np.allclose(reopened.session.frame().vector(), box, atol=1e-4)


def _dot_spread(png: bytes) -> float:
    """Standard deviation of the lit pixels' positions: grows with the face's scale."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    ys, xs = np.nonzero(image.any(axis=2))
    return float(np.hypot(xs.std(), ys.std()))


@pytest.fixture
def still_vmc() -> Iterator[int]:
    """A VMC sender on real UDP holding a still, neutral head (30 Hz); yields its port."""
    port = free_port()
    stop = threading.Event()

    def send() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        while not stop.wait(1 / 30):
            client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", 0.0])
            client.send_message("/VMC/Ext/Blend/Apply", [])

    sender = threading.Thread(target=send, name="still-vmc", daemon=True)
    sender.start()
    yield port
    stop.set()
    sender.join()


def test_auto_fit_is_shown_toggled_and_saved(
    browser: object, tmp_path: Path, reference: Path, still_vmc: int
) -> None:
    files = character_files(tmp_path, "cat")
    source = SourceConfig(kind="vmc", port=still_vmc)
    for running in _run(CalibrateRequest(files, image=reference, source=source)):
        page, errors = _open(browser, running)
        assert page.is_checked("#auto-fit")
        page.wait_for_selector("body[data-auto-fit='fitted']", timeout=10_000)  # one steady second of the head
        assert "fitted: face size" in page.text_content("#auto-fit-state")
        fitted = running.session.calibration.framing
        assert fitted.auto_fit and fitted.neutral_size is not None
        _save(page)
        assert load_calibration(files.calibration).framing == fitted  # recorded in the file

        with page.expect_response(lambda r: "/api/auto_fit" in r.url):
            page.uncheck("#auto-fit")
        page.wait_for_selector("body[data-auto-fit='off']", timeout=5_000)
        page.click("#save")
        page.wait_for_selector("body[data-saved-count='2']", timeout=10_000)
        saved = load_calibration(files.calibration).framing
        assert saved.auto_fit is False and saved.neutral_size == fitted.neutral_size
        assert errors == []
        page.close()


def test_microphone_levels_are_metered_recorded_and_saved(
    browser: object, tmp_path: Path, reference: Path, pulse: Pulse  # noqa: F811 (fixture)
) -> None:
    """A real microphone (PulseAudio null sink monitor) hearing a quiet room, then espeak-ng speech."""
    speech = np.concatenate([espeak("Hello streamers, welcome back to the channel. Today we draw a cat, "
                                    "and then we read your messages.")] * 2)
    room = pulse.room_tone()
    pulse.wait_running()
    files = character_files(tmp_path, "cat")
    request = CalibrateRequest(files, image=reference, countdown_s=1.0, audio=AudioSettings(input="pulse"))
    try:
        for running in _run(request):
            page, errors = _open(browser, running)
            page.wait_for_selector("#audio-panel:not([hidden])", timeout=5_000)
            page.wait_for_selector("body[data-audio-state='listening']", timeout=10_000)
            # the meter shows the room (PulseAudio may hand a new stream a moment of digital silence first)
            page.wait_for_function(f"Math.abs(Number(document.body.dataset.audioLevel) - {ROOM_TONE_DB}) < 3", timeout=10_000)
            assert "pulse (listening)" in page.text_content("#audio-readout")

            page.click("button[data-step='room_silence']")
            page.wait_for_selector("#countdown:not([hidden])", timeout=5_000)
            page.wait_for_selector("#countdown:text('quiet')", timeout=5_000)
            page.wait_for_selector("body[data-record-phase='done']", timeout=15_000)
            floor = running.session.calibration.audio.noise_floor_db
            assert floor == pytest.approx(ROOM_TONE_DB, abs=2)  # the loud end of the room tone's levels
            assert f"noise floor {floor:.1f} dBFS" in page.text_content("#recording")

            page.click("button[data-step='speech']")  # the speech plays through the countdown and the recording
            player = pulse.play(speech)
            page.wait_for_function("Number(document.body.dataset.audioLevel) > -35", timeout=5_000)  # the meter moves
            page.wait_for_selector("#countdown:text('talk')", timeout=5_000)
            page.wait_for_selector("body[data-record-phase='done']", timeout=15_000)
            player.kill()
            assert "recorded normal speech: speech level" in page.text_content("#recording"), page.text_content("#recording")
            speech_db = running.session.calibration.audio.speech_db
            level = envelope_db(speech)
            expected = np.percentile(level[level > floor + AudioSettings().gate_db], 90)  # the same rule, numpy
            assert speech_db == pytest.approx(expected, abs=3)
            page.wait_for_function(
                f"document.querySelector('#audio-readout').textContent.includes('speech {speech_db:.1f} dBFS')",
                timeout=5_000,
            )

            _save(page)
            saved = load_calibration(files.calibration)
            assert saved.audio == AudioCalibration(noise_floor_db=floor, speech_db=speech_db)
            assert saved == running.session.calibration
            assert running.audio is not None and running.audio.calibration == saved.audio  # the meter follows it
            assert errors == []
            page.close()
    finally:
        room.kill()
