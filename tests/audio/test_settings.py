"""AudioSettings, AudioCalibration, the calibration file's `audio:` section, levels -> calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rain_vtuber.audio import AudioCalibration, AudioSettings, noise_floor, speech_level, with_levels
from rain_vtuber.errors import RainError
from rain_vtuber.landmarks import Calibration, load_calibration, save_calibration

REPO = Path(__file__).resolve().parents[2]


def test_settings_defaults_and_strictness() -> None:
    settings = AudioSettings()
    assert settings.input is None and settings.mode == "blend" and not settings.enabled
    assert AudioSettings(input="USB").enabled and not AudioSettings(input="USB", mode="off").enabled
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        AudioSettings.model_validate({"input": "USB", "gain": 3})
    with pytest.raises(ValidationError):
        AudioSettings.model_validate({"mode": "sometimes"})
    with pytest.raises(ValidationError):
        AudioSettings.model_validate({"attack_ms": "fast"})
    with pytest.raises(ValidationError, match="device index is 0 or more"):
        AudioSettings(input=-1)


def test_input_is_a_file_when_it_looks_like_one(tmp_path: Path) -> None:
    assert AudioSettings(input="USB Audio").input_file is None
    assert AudioSettings(input=2).input_file is None
    assert AudioSettings(input="take.FLAC").input_file == Path("take.FLAC")
    assert AudioSettings(input="sounds/take").input_file == Path("sounds/take")
    resolved = AudioSettings(input="take.wav").relative_to(tmp_path)
    assert resolved.input_file == tmp_path / "take.wav"
    assert AudioSettings(input="USB").relative_to(tmp_path).input == "USB"


def test_the_audio_flag_reads_an_index_a_name_or_a_file() -> None:
    assert AudioSettings.from_flag("3").input == 3
    assert AudioSettings.from_flag("USB Mic").input == "USB Mic"
    looping = AudioSettings.from_flag("take.wav", loop=True)
    assert looping.input_file == Path("take.wav") and looping.loop
    with pytest.raises(RainError, match="--audio 'x': 'mode' = 'sometimes': Input should be 'off', 'when_lost', 'blend' or 'always'; allowed: off, when_lost, blend, always"):
        AudioSettings.from_flag("x", mode="sometimes")


def test_calibration_needs_speech_above_the_floor() -> None:
    assert AudioCalibration().speech_db - AudioCalibration().noise_floor_db >= 10
    with pytest.raises(ValidationError, match="at least 10 dB above"):
        AudioCalibration(noise_floor_db=-40.0, speech_db=-35.0)


def test_old_calibration_without_audio_loads_and_the_section_round_trips(tmp_path: Path) -> None:
    shipped = load_calibration(REPO / "calibration" / "default.yaml")  # written before `audio:` existed
    assert "audio:" not in (REPO / "calibration" / "default.yaml").read_text()
    assert shipped.audio == AudioCalibration()
    path = tmp_path / "alice.yaml"
    calib = Calibration(audio=AudioCalibration(noise_floor_db=-62.5, speech_db=-21.0))
    save_calibration(calib, path)
    assert "audio:\n  noise_floor_db: -62.5\n  speech_db: -21.0" in path.read_text()
    assert load_calibration(path) == calib


def test_bad_audio_calibration_is_a_one_line_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("audio:\n  noise_floor_db: -50\n  loudness: 3\n")
    with pytest.raises(RainError, match=r"unknown key 'audio.loudness'; allowed keys here: noise_floor_db, speech_db"):
        load_calibration(path)
    path.write_text("audio:\n  noise_floor_db: -50\n  speech_db: -45\n")
    with pytest.raises(RainError, match="speech_db .* at least 10 dB above"):
        load_calibration(path)


def test_levels_make_a_calibration() -> None:
    rng = np.random.default_rng(3)
    silence = list(-63 + 2 * rng.standard_normal(300))
    speech = list(np.concatenate([-62 + 2 * rng.standard_normal(100), -30 + 6 * rng.standard_normal(200)]))
    floor = noise_floor(silence)
    assert floor == pytest.approx(np.percentile(silence, 90), abs=0.05)
    level = speech_level(speech, floor, gate_db=6.0)
    voiced = np.array(speech)[np.array(speech) > floor + 6]
    assert level == pytest.approx(np.percentile(voiced, 90), abs=0.05)
    assert with_levels(AudioCalibration(), floor, level) == AudioCalibration(noise_floor_db=floor, speech_db=level)
    assert with_levels(AudioCalibration(), noise_floor_db=-70.0).speech_db == AudioCalibration().speech_db


def test_recordings_that_cannot_calibrate_say_what_to_redo() -> None:
    with pytest.raises(RainError, match="hardly any sound arrived while recording room silence"):
        noise_floor([-60.0] * 10)
    with pytest.raises(RainError, match="hardly louder than the room"):
        speech_level([-60.0] * 200 + [-30.0] * 10, noise_floor_db=-60.0, gate_db=6.0)
    with pytest.raises(RainError, match="not 10 dB above the room"):
        with_levels(AudioCalibration(), noise_floor_db=-30.0)
