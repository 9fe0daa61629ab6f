"""`rain-vtuber pose` end to end: real mediapipe on the scikit-image astronaut, real files out."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import typer
from pythonosc.udp_client import SimpleUDPClient
from typer.testing import CliRunner

from rain_vtuber.cli import pose
from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import PoseRenderer, load_calibration
from rain_vtuber.landmarks.dots import COLORS
from rain_vtuber.utils.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CALIBRATION = REPO / "calibration" / "default.yaml"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(pose.pose)
    return app


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def _run(app: typer.Typer, *args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _colour_pixels(image: np.ndarray) -> dict[tuple[int, int, int], np.ndarray]:
    return {c: np.argwhere(np.all(image == c, axis=2)) for c in set(COLORS)}


def test_image_to_pngs_has_all_groups_in_spec_colours(app: typer.Typer, astronaut: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(app, str(astronaut), "--out", str(out), "--calibration", str(CALIBRATION), "--size", "256", "--recenter")
    image = _read_rgb(out / "pose_00000.png")
    assert image.shape == (256, 256, 3)
    painted = np.any(image > 0, axis=2)
    found = _colour_pixels(image)
    assert all(len(found[c]) > 0 for c in set(COLORS)), "every group colour is drawn"
    assert sum(len(v) for v in found.values()) == painted.sum(), "nothing but spec colours"
    # Anatomical order in the image: brows above eyes above nose above lips above chin.
    mean_y = {c: found[c][:, 0].mean() for c in found}
    brows = min(mean_y[(128, 0, 255)], mean_y[(255, 0, 128)])
    assert brows < mean_y[(255, 128, 128)] < mean_y[(255, 0, 255)] < mean_y[(0, 0, 255)]
    # The subject's right eye group is on the image left; --recenter put the face mid-image.
    assert found[(255, 128, 128)][:, 1].mean() < found[(128, 128, 255)][:, 1].mean()
    ys, xs = np.nonzero(painted)
    assert abs(xs.mean() - 128) < 20 and abs(ys.mean() - 128) < 30
    overlay = _read_rgb(out / "overlay_00000.png")
    assert overlay.shape == (256, 256, 3) and overlay.std() > 10


def test_video_to_mp4_side_by_side(app: typer.Typer, astronaut: Path, tmp_path: Path) -> None:
    video = tmp_path / "talk.mp4"
    frame = cv2.imread(str(astronaut))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
    for shift in range(6):
        writer.write(np.roll(frame, 4 * shift, axis=1))
    writer.release()
    out = tmp_path / "pose.mp4"
    _run(app, str(video), "--out", str(out), "--size", "128", "--fps", "10")
    capture = cv2.VideoCapture(str(out))
    count, size = 0, None
    ok, got = capture.read()
    while ok:
        count, size = count + 1, got.shape
        ok, got = capture.read()
    capture.release()
    assert count == 6 and size == (128, 256, 3)


def test_bench_and_bad_input(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--bench", "--size", "128", "--frames", "200"])
    assert result.exit_code == 0 and "ms/frame" in result.output
    result = runner.invoke(app, [str(tmp_path / "missing.png"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "does not exist" in str(result.exception)


def _lip_span(image: np.ndarray) -> int:
    rows = np.flatnonzero(np.all(image == (0, 0, 255), axis=2).any(axis=1))
    return int(rows.max() - rows.min() + 1)


def test_live_vmc_source_opens_the_mouth(app: typer.Typer, tmp_path: Path) -> None:
    """Live path over real UDP: a VMC sender holding jawOpen = 1 opens the inner-lip dots."""
    port = free_port()
    stop = threading.Event()

    def send() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        while not stop.is_set():
            client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", 1.0])
            client.send_message("/VMC/Ext/Blend/Apply", [])
            time.sleep(0.01)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        out = tmp_path / "live"
        _run(app, "--source", "vmc", "--port", str(port), "--out", str(out), "--frames", "20", "--size", "256",
             "--calibration", str(CALIBRATION))
    finally:
        stop.set()
        sender.join()
    neutral = PoseRenderer(load_calibration(CALIBRATION), 256, 256).render(None)
    assert _lip_span(_read_rgb(out / "pose_00019.png")) > _lip_span(neutral) + 4
    overlay = _read_rgb(out / "overlay_00019.png")  # no camera image: the rig's points on black
    assert (overlay[40:] > 0).any()


def test_live_source_failure_is_a_one_line_error(app: typer.Typer, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("0.0.0.0", 0))
        port = busy.getsockname()[1]
        args = ["--source", "vmc", "--port", str(port), "--out", str(tmp_path), "--frames", "300"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, RainError) and "failed" in str(result.exception)
