"""Calibration YAML: strict validation with useful messages, atomic save with backup, safe reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, load_calibration, reload_calibration, save_calibration
from rain_vtuber.landmarks.calibration import ShapeParams

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alice.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(RainError) as info:
        load_calibration(path)
    return str(info.value)


def test_partial_file_fills_defaults(tmp_path: Path) -> None:
    calib = load_calibration(_write(tmp_path, "shape:\n  eye_height_ratio: 2.5\nframing: {scale: 1.2}\n"))
    assert calib.shape.eye_height_ratio == 2.5
    assert calib.shape.face_length_ratio == 0.75
    assert calib.framing.scale == 1.2
    assert load_calibration(_write(tmp_path, "")) == Calibration()


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "shape:\n  eye_hieght_ratio: 2.0\n")
    message = _error(path)
    assert str(path) in message
    assert "shape.eye_hieght_ratio" in message
    assert "eye_height_ratio" in message  # the allowed keys are listed
    assert "frame" in _error(_write(tmp_path, "frame: {}\n"))


def test_out_of_range_names_key_and_range(tmp_path: Path) -> None:
    path = _write(tmp_path, "shape:\n  jaw_width_ratio: 2.0\n")
    message = _error(path)
    assert str(path) in message and "shape.jaw_width_ratio" in message
    assert "0.1 to 1.5" in message
    assert "-0.25 to 0.25" in _error(_write(tmp_path, "shape: {nose_vertical_correction: 0.3}\n"))


def test_wrong_type_names_key_and_expected_type(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "framing:\n  scale: big\n"))
    assert "framing.scale" in message and "'big'" in message and "0.1 to 4.0" in message
    assert "true or false" in _error(_write(tmp_path, "filter: {enabled: 3}\n"))
    assert "mapping" in _error(_write(tmp_path, "shape: 3\n"))


def test_inverted_expression_range_is_rejected(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "expressions: {eye_closed: 0.3, eye_open: 0.2}\n"))
    assert "eye_open" in message and "eye_closed" in message


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in _error(_write(tmp_path, "shape: [1, 2\n"))
    assert "cannot read" in _error(tmp_path / "missing.yaml")
    assert "mapping" in _error(_write(tmp_path, "- 1\n- 2\n"))


def test_save_is_atomic_keeps_backup_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "calibration" / "bob.yaml"
    first = Calibration(shape=ShapeParams(eye_width_ratio=1.9))
    save_calibration(first, path)
    assert load_calibration(path) == first
    second = first.model_copy(update={"shape": ShapeParams(eye_width_ratio=2.2)})
    save_calibration(second, path)
    assert load_calibration(path) == second
    assert load_calibration(path.with_name("bob.yaml.bak")) == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["bob.yaml", "bob.yaml.bak"]  # no temp left


def test_reload_keeps_previous_on_a_bad_file(tmp_path: Path) -> None:
    previous = Calibration(shape=ShapeParams(mouth_width_ratio=0.5))
    path = _write(tmp_path, "shape: {mouth_width_ratio: 99}\n")
    calib, error = reload_calibration(path, previous)
    assert calib is previous
    assert error is not None and "shape.mouth_width_ratio" in error
    path.write_text("shape: {mouth_width_ratio: 0.8}\n", encoding="utf-8")
    calib, error = reload_calibration(path, previous)
    assert error is None and calib.shape.mouth_width_ratio == 0.8


def test_shipped_default_calibration_is_valid() -> None:
    calib = load_calibration(REPO / "calibration" / "default.yaml")
    assert calib.shape == ShapeParams()
