"""Finding face_landmarker.task: --face-model, the source key, the cache; one-line errors; doctor's row."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from skimage import data

from rain_vtuber.cli.doctor import check_face_tracker
from rain_vtuber.errors import RainError
from rain_vtuber.sources import SourceConfig, open_source
from rain_vtuber.sources.face_model import resolve_face_model
from tests.conftest import FACE_MODEL

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_default_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RAIN_VTUBER_FACE_MODEL and an empty cache: where the model would be looked for by default."""
    monkeypatch.delenv("RAIN_VTUBER_FACE_MODEL", raising=False)
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "weights" / "face_landmarker.task"


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("face") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def _pose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rain_vtuber.cli.main", "pose", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_missing_model_is_one_line_naming_the_fetch_command(no_default_model: Path, photo: Path,
                                                            tmp_path: Path) -> None:
    with pytest.raises(RainError, match=r"weights download --only face_landmarker") as err:
        open_source(SourceConfig(kind="image", path=photo))
    assert str(no_default_model) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RainError, match="elsewhere.task not found"):
        open_source(SourceConfig(kind="webcam", face_model=tmp_path / "elsewhere.task"))
    run = _pose(str(photo), "--out", str(tmp_path / "out"), env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("error: face model ") and "Traceback" not in run.stderr


def test_the_weights_folder_in_use_is_searched_before_the_cache(no_default_model: Path, photo: Path,
                                                                tmp_path: Path) -> None:
    weights = tmp_path / "my-weights"  # `weights download --dir my-weights`, then `daemon --weights my-weights`
    weights.mkdir()
    with pytest.raises(RainError, match=re.escape(str(no_default_model))):  # not there: the cache is named
        resolve_face_model(None, weights)
    (weights / "face_landmarker.task").symlink_to(FACE_MODEL)
    assert resolve_face_model(None, weights) == weights / "face_landmarker.task"
    assert check_face_tracker(None, weights).status == "pass"
    frames = list(open_source(SourceConfig(kind="image", path=photo), weights).iter_tracked())
    assert len(frames) == 1 and frames[0].face is not None


def test_network_sources_need_no_face_model(no_default_model: Path) -> None:
    for kind in ("vmc", "ifacialmocap"):
        assert open_source(SourceConfig(kind=kind, host="127.0.0.1", port=0)).name


def test_source_key_and_flag_take_a_local_copy(no_default_model: Path, photo: Path, tmp_path: Path) -> None:
    frames = list(open_source(SourceConfig(kind="image", path=photo, face_model=FACE_MODEL)).iter_tracked())
    assert len(frames) == 1 and frames[0].face is not None
    run = _pose(str(photo), "--out", str(tmp_path / "out"), "--json", "--face-model", str(FACE_MODEL),
                env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["frame"] == 0 and report["face"] and report["valid_points"] == 68
    assert report["expressions"]["eyeBlinkLeft"] < 0.3 and report["expressions"]["jawOpen"] < 0.2
    assert (tmp_path / "out" / "pose_00000.png").is_file()


def test_doctor_reports_mediapipe_and_the_model(no_default_model: Path) -> None:
    import mediapipe

    found = check_face_tracker(FACE_MODEL)
    assert found.status == "pass" and f"mediapipe {mediapipe.__version__}" in found.detail
    assert "3758596 bytes" in found.detail
    missing = check_face_tracker(None)
    assert missing.status == "warn" and str(no_default_model) in missing.detail
    assert "weights download --only face_landmarker" in missing.fix
