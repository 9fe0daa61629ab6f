"""face/ owns its options and sits below landmarks/: the calibration composes them, errors still name keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rain_vtuber.errors import RainError
from rain_vtuber.face.filter import FilterOptions
from rain_vtuber.face.openness import OpennessRanges
from rain_vtuber.landmarks import Calibration, load_calibration

REPO = Path(__file__).resolve().parents[2]


def test_the_face_package_imports_nothing_above_it() -> None:
    """Importing every face module loads no landmarks, sources, daemon or engine module."""
    modules = sorted(p.stem for p in (REPO / "rain_vtuber" / "face").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('rain_vtuber.face.' + name)\n"
        "above = sorted(m for m in sys.modules if m.startswith('rain_vtuber.') and m.split('.')[1] not in "
        "('face', 'errors', 'utils'))\n"
        "print(above)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert {"driver", "expressions", "idle", "openness", "filter", "repose"} <= set(modules)


def test_the_calibration_is_made_of_the_face_options() -> None:
    assert Calibration.model_fields["expressions"].annotation is OpennessRanges
    assert Calibration.model_fields["filter"].annotation is FilterOptions


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "alice.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RainError) as info:
        load_calibration(path)
    return str(info.value)


def test_errors_in_the_face_sections_still_name_the_key_and_the_range(tmp_path: Path) -> None:
    message = _error(tmp_path, "filter: {beta: 200}\n")
    assert "'filter.beta' = 200" in message and "a number from 0.0 to 100.0" in message
    message = _error(tmp_path, "expressions: {mouth_open: 3}\n")
    assert "'expressions.mouth_open' = 3" in message and "a number from 0.0 to 2.0" in message
    message = _error(tmp_path, "expressions: {eye_opn: 0.2}\n")
    assert "unknown key 'expressions.eye_opn'" in message
    assert "allowed keys here: enabled, eye_closed, eye_open, mouth_closed, mouth_open" in message
    assert "true or false" in _error(tmp_path, "expressions: {enabled: 1}\n")
    message = _error(tmp_path, "expressions: {mouth_open: 0.02}\n")
    assert "mouth_open (0.02) must be above mouth_closed (0.03)" in message
