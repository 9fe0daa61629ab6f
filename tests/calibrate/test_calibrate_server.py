"""The calibration HTTP API over real sockets, and the expression-range arithmetic."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from rain_vtuber.calibrate import CalibrateRequest, PreviewOptions, Running, character_files, start
from rain_vtuber.calibrate.preview import start_preview
from rain_vtuber.calibrate.recording import MARGIN, expression_ranges, measure_step
from rain_vtuber.errors import RainError
from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.openness import OpennessRanges, eye_openness
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration
from tests.waiting import wait_until


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    image = tmp_path / "cat.png"
    cv2.imwrite(str(image), data.chelsea()[..., ::-1])
    run = start(CalibrateRequest(character_files(tmp_path, "cat"), image=image))
    yield run
    run.stop()


def _call(run: Running, path: str, body: bytes | dict | None = None, **headers: str) -> tuple[int, bytes]:
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        run.url.rstrip("/") + path, data=payload, method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_pages_and_images(running: Running) -> None:
    assert running.url.startswith("http://127.0.0.1:")
    status, page = _call(running, "/")
    assert status == 200 and b"/static/app.js" in page
    for path in ("/static/app.js", "/static/style.css"):
        assert _call(running, path)[0] == 200
    status, png = _call(running, "/pose.png")
    pose = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert status == 200 and pose.shape == (512, 512, 3) and pose.any()
    status, jpg = _call(running, "/overlay.jpg")
    overlay = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
    assert status == 200 and overlay.shape == (426, 640, 3)  # the 451x300 cat, longest side 640
    assert _call(running, "/preview.jpg")[0] == 204  # no GPU preview configured
    state = json.loads(_call(running, "/api/state")[1])
    assert state["preview"]["available"] is False and state["preview"]["reason"]
    assert len(state["params"]) == 16 and state["source"] is None and state["dirty"] is False
    assert state["audio"]["available"] is False and "--audio" in state["audio"]["hint"]
    assert json.loads(_call(running, "/api/audio")[1]) == state["audio"]


def test_bad_requests_are_clear_and_change_nothing(running: Running) -> None:
    before = running.session.calibration
    cases = [
        ("/nowhere", None, 404, "no such page"),
        ("/static/../session.py", None, 404, "no such"),
        ("/static/evil.py", None, 404, "no such file"),
        ("/api/params", b"{not json", 400, "not JSON"),
        ("/api/params", b"[1, 2]", 400, "JSON object"),
        ("/api/params", {"values": {"shape.eye_width_ratio": 9.0}}, 400, "from 0.1 to 4.0"),
        ("/api/params", {"values": {"shape.nope": 1.0}}, 400, "unknown calibration value"),
        ("/api/params", {"values": {"framing.scale": "big"}}, 400, "must be a number"),
        ("/api/frame", {"box": [0.5, 0.5, 0.4, 0.4], "anchors": {}}, 400, "needs box"),
        ("/api/frame", {"box": "wide"}, 400, "needs box"),
        ("/api/record", {"step": "neutral"}, 400, "no face source"),
        ("/api/record", {"step": "room_silence"}, 400, "No microphone: start calibrate with --audio DEVICE"),
        ("/api/record", {"step": "dance"}, 400, "unknown recording step"),
        ("/api/recenter", {}, 400, "no face tracked"),
        ("/api/auto_fit", {"enabled": "yes"}, 400, "expected"),
        ("/api/launch", {}, 404, "no such action"),
    ]
    for path, body, status, text in cases:
        got, payload = _call(running, path, body)
        assert got == status, (path, payload)
        assert text in json.loads(payload)["error"], (path, payload)
    # another site's page in the user's browser: a plain form post, or a rebound host name
    change = {"values": {"framing.scale": 2.0}}
    assert _call(running, "/api/params", change, **{"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert _call(running, "/api/params", change, Host="evil.example:80")[0] == 403
    assert _call(running, "/api/state", Host="evil.example:80")[0] == 403
    assert running.session.calibration == before


def test_params_then_save_writes_the_file(running: Running) -> None:
    status, body = _call(running, "/api/params", {"values": {"shape.eye_width_ratio": 1.25}})
    state = json.loads(body)
    assert status == 200 and state["dirty"] is True
    assert next(p["value"] for p in state["params"] if p["key"] == "shape.eye_width_ratio") == 1.25
    status, body = _call(running, "/api/save", {})
    assert status == 200 and json.loads(body)["state"]["dirty"] is False
    assert "eye_width_ratio: 1.25" in Path(json.loads(body)["path"]).read_text()


def _face(points: np.ndarray) -> FaceState:
    return FaceState(points=points, valid=np.ones(68, bool))


def test_recorded_steps_set_the_ranges_with_a_margin() -> None:
    open_values, neutral = measure_step("neutral", [_face(NEUTRAL_FACE)] * 3)
    assert neutral is not None and np.allclose(neutral, NEUTRAL_FACE)
    assert open_values["eye_open"] == pytest.approx(np.mean(eye_openness(NEUTRAL_FACE)))
    closed = np.array(NEUTRAL_FACE)
    closed[[37, 38, 43, 44]] = closed[[41, 40, 47, 46]]  # upper lids onto the lower ones
    closed_values, none = measure_step("eyes_closed", [_face(closed)])
    assert none is None and closed_values["eye_closed"] == pytest.approx(0.0)

    ranges = expression_ranges(OpennessRanges(), {**open_values, **closed_values})
    span = open_values["eye_open"]
    assert ranges.eye_closed == pytest.approx(MARGIN * span)
    assert ranges.eye_open == pytest.approx((1 - MARGIN) * span)
    assert ranges.mouth_closed == pytest.approx(open_values["mouth_closed"])
    assert ranges.mouth_open == Calibration().expressions.mouth_open


def test_expressions_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(RainError, match="not in order"):
        expression_ranges(OpennessRanges(), {"eye_open": 0.2, "eye_closed": 0.25})
    with pytest.raises(RainError, match="record neutral"):
        expression_ranges(OpennessRanges(), {"mouth_closed": 0.6})  # above the default mouth_open 0.45


def test_live_preview_with_the_tiny_weights_on_cpu(tmp_path: Path, shared: Path) -> None:
    """The preview panel's wiring end to end (a GPU only makes it fast): state, then real frames."""
    image = tmp_path / "cat.png"
    cv2.imwrite(str(image), data.chelsea()[..., ::-1])
    tiny = shared / "golden" / "tiny"
    preview = PreviewOptions(weights=tiny / "weights", config=tiny / "config.yaml", device="cpu", dtype="fp32")
    run = start(CalibrateRequest(character_files(tmp_path, "cat"), image=image, preview=preview))
    try:
        assert json.loads(_call(run, "/api/state")[1])["preview"] == {"available": True, "reason": ""}
        status, body = wait_until(lambda: (reply := _call(run, "/preview.jpg"))[0] != 204 and reply, 120, poll_s=0.3,
                                  what="the first preview frame (204 until then)")
        frame = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert status == 200 and frame.shape == (128, 128, 3)
    finally:
        run.stop()


def test_preview_is_skipped_cleanly_without_gpu_or_weights(tmp_path: Path) -> None:
    reference = data.chelsea()
    for weights in (None, tmp_path / "none"):
        missing = start_preview(weights, None, "cpu", "fp32", reference, Calibration())
        assert not missing.available and "not found" in missing.reason and "weights download" in missing.reason
    broken = start_preview(tmp_path, None, "cpu", "fp32", reference, Calibration())  # a folder without weights
    assert not broken.available and "did not start" in broken.reason
    if not torch.cuda.is_available():
        no_gpu = start_preview(tmp_path, None, "cuda", "fp16", reference, Calibration())
        assert not no_gpu.available and "no CUDA GPU" in no_gpu.reason


def test_reopen_with_flags_shows_unsaved_changes(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    cv2.imwrite(str(image), data.chelsea()[..., ::-1])
    files = character_files(tmp_path, "cat")
    start(CalibrateRequest(files, image=image)).stop()
    run = start(CalibrateRequest(files, values={"framing.scale": 1.5}))
    try:
        assert run.session.calibration.framing.scale == 1.5 and run.session.dirty
        assert _call(run, "/api/save", {})[0] == 200 and not run.session.dirty
    finally:
        run.stop()
