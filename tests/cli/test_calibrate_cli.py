"""`rain-vtuber calibrate` on bad input: clear errors and nothing half-written; --no-ui and --force."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import cv2
import pytest
from skimage import data
from typer.testing import Result

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, load_calibration
from tests.cli.calibrate_cli import image, invoke  # noqa: F401 (image: a fixture)
from tests.conftest import REPO, require
from tests.microphone import portaudio_missing

pytestmark = pytest.mark.usefixtures("private_rain_home")  # as tests/calibrate/conftest.py


def _error(result: Result) -> str:
    exc = result.exception
    assert isinstance(exc, RainError), f"expected a RainError, got {exc!r}: {result.output}"
    return str(exc)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    out = tmp_path / "project"
    out.mkdir()
    return out


def test_no_ui_creates_character_and_keeps_the_original(root: Path, image: Path) -> None:
    original = _digest(image)
    result = invoke("cat", "--image", image, "--root", root, "--no-ui", "--scale", "0.8", "--center-y", "0.45")
    assert result.exit_code == 0, result.output
    assert (root / "characters" / "cat" / "reference.png").read_bytes() == image.read_bytes()
    assert (root / "characters" / "cat" / "character.yaml").is_file()
    calib = load_calibration(root / "calibration" / "cat.yaml")
    assert (calib.framing.scale, calib.framing.center_y) == (0.8, 0.45)
    assert calib.shape == Calibration().shape
    assert _digest(image) == original
    assert not [p for p in _tree(root) if ".new" in p or ".old" in p]


def test_no_ui_face_box_solves_the_framing(root: Path, image: Path) -> None:
    result = invoke("cat", "--image", image, "--root", root, "--no-ui", "--face-box", "0.55,0.1,0.85,0.5")
    assert result.exit_code == 0, result.output
    framing = load_calibration(root / "calibration" / "cat.yaml").framing
    assert 0.6 < framing.center_x < 0.8 and framing.center_y < 0.4 and framing.scale < 1.0


def test_jpeg_is_converted_to_a_png_copy(root: Path, tmp_path: Path) -> None:
    jpeg = tmp_path / "cat.jpg"
    cv2.imwrite(str(jpeg), data.chelsea()[..., ::-1])
    assert invoke("cat", "--image", jpeg, "--root", root, "--no-ui").exit_code == 0
    reference = cv2.imread(str(root / "characters" / "cat" / "reference.png"))
    assert reference.shape == (300, 451, 3)


def test_missing_and_non_image_files(root: Path, tmp_path: Path) -> None:
    assert "not found" in _error(invoke("cat", "--image", tmp_path / "nope.png", "--root", root, "--no-ui"))
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture")
    assert "cannot decode the picture" in _error(invoke("cat", "--image", fake, "--root", root, "--no-ui"))
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), data.chelsea()[:20, :20])
    assert "at least" in _error(invoke("cat", "--image", tiny, "--root", root))
    assert _tree(root) == []


def test_existing_name_needs_force(root: Path, image: Path, tmp_path: Path) -> None:
    assert invoke("cat", "--image", image, "--root", root, "--no-ui").exit_code == 0
    calib_file = root / "calibration" / "cat.yaml"
    before = {p: (root / p).read_bytes() for p in _tree(root) if (root / p).is_file()}

    message = _error(invoke("cat", "--image", image, "--root", root, "--no-ui", "--scale", "2"))
    assert "already exists" in message and "--force" in message
    assert {p: (root / p).read_bytes() for p in _tree(root) if (root / p).is_file()} == before

    other = tmp_path / "astronaut.png"
    cv2.imwrite(str(other), data.astronaut()[..., ::-1])
    result = invoke("cat", "--image", other, "--root", root, "--no-ui", "--force", "--scale", "2")
    assert result.exit_code == 0, result.output
    assert (root / "characters" / "cat" / "reference.png").read_bytes() == other.read_bytes()
    assert load_calibration(calib_file).framing.scale == 2.0
    assert calib_file.with_name("cat.yaml.bak").read_bytes() == before["calibration/cat.yaml"]
    assert not [p for p in _tree(root) if ".new" in p or ".old" in p]


def test_reopen_without_image(root: Path, image: Path) -> None:
    assert "not found" in _error(invoke("ghost", "--root", root, "--no-ui"))
    assert invoke("cat", "--image", image, "--root", root, "--no-ui").exit_code == 0
    assert invoke("cat", "--root", root, "--no-ui", "--scale", "1.5").exit_code == 0
    assert load_calibration(root / "calibration" / "cat.yaml").framing.scale == 1.5


def test_port_in_use(root: Path, image: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = _error(invoke("cat", "--image", image, "--root", root, "--port", port, "--no-browser"))
    assert f"port {port}" in message and "in use" in message
    assert _tree(root) == []


def test_failing_sources(root: Path, image: Path, tmp_path: Path) -> None:
    common = ("cat", "--image", image, "--root", root, "--no-browser")
    assert "does not exist" in _error(invoke(*common, "--source", "video", "--source-path", tmp_path / "none.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    message = _error(invoke(*common, "--source", "video", "--source-path", broken))
    assert "face source" in message and "failed" in message
    assert "needs a path" in _error(invoke(*common, "--source", "video"))
    assert "--source KIND" in _error(invoke(*common, "--camera", "1"))
    assert "bad face source" in _error(invoke(*common, "--source", "telepathy"))
    assert _tree(root) == []


def test_failing_audio_inputs(root: Path, image: Path, tmp_path: Path) -> None:
    """A microphone that is not there or an unreadable sound file stops it before anything is written."""
    common = ("cat", "--image", image, "--root", root, "--no-browser")
    require(portaudio_missing())
    message = _error(invoke(*common, "--audio", "No Such Microphone 3000"))
    assert message.startswith("no audio input device for input 'No Such Microphone 3000'; input devices: ")
    assert "sound file not found" in _error(invoke(*common, "--audio", tmp_path / "missing.wav"))
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC but not really")
    assert "cannot read sound file" in _error(invoke(*common, "--audio", broken))
    assert _tree(root) == []


def test_bad_names_and_flags(root: Path, image: Path) -> None:
    assert "invalid character name" in _error(invoke("../evil", "--image", image, "--root", root, "--no-ui"))
    assert "--face-box" in _error(invoke("cat", "--image", image, "--root", root, "--no-ui", "--face-box", "1,2"))
    assert "out of range" in _error(invoke("cat", "--image", image, "--root", root, "--no-ui", "--scale", "9"))
    assert _tree(root) == []


def test_page_runs_until_closed(root: Path, image: Path) -> None:
    """The real command in its own process: prints the URL, serves, exits 0 when the page closes it."""
    command = "import typer; from rain_vtuber.cli.calibrate import calibrate; typer.run(calibrate)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "60"}
    args = [sys.executable, "-c", command, "cat", "--image", str(image), "--root", str(root), "--no-browser"]
    with subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            url = re.search(r"http://127\.0\.0\.1:\d+/", line)
            assert url, line
            with urllib.request.urlopen(url.group(0) + "api/state", timeout=10) as response:
                assert json.loads(response.read())["name"] == "cat"
            assert (root / "calibration" / "cat.yaml").is_file()  # created before serving
            quit_request = urllib.request.Request(
                url.group(0) + "api/quit", data=b"{}", headers={"Content-Type": "application/json"}
            )
            urllib.request.urlopen(quit_request, timeout=10).read()
            assert proc.wait(timeout=20) == 0
        finally:
            proc.kill()
