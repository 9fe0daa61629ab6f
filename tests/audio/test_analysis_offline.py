"""The analysis on whole recordings (the offline path of render/pose), checked hop by hop against
an envelope computed independently from the same samples with numpy."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from rain_vtuber.audio import AudioCalibration, AudioSettings, analyse_file, analyse_samples
from rain_vtuber.audio.analysis import MouthAnalyser
from rain_vtuber.errors import RainError
from tests.microphone import (
    ROOM_TONE_DB,
    SAMPLE_RATE,
    espeak,
    speech_and_pauses,
    speech_with_pauses,
    sine,
    write_wav,
)

CALIBRATION = AudioCalibration(noise_floor_db=-60.0, speech_db=-18.0)
GATE_DB = CALIBRATION.noise_floor_db + AudioSettings().gate_db


def _room(samples: np.ndarray, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(samples)) * 10 ** (ROOM_TONE_DB / 20)
    return (samples + noise).astype(np.float32)


def test_mouth_is_open_in_words_and_shut_in_pauses(tmp_path: Path) -> None:
    heard = _room(speech_with_pauses())
    track = analyse_file(write_wav(tmp_path / "speech.flac", heard), CALIBRATION)
    hops = track.arrays()
    speaking, pauses = speech_and_pauses(heard, voice_db=GATE_DB + 4)
    assert len(hops["open"]) == len(speaking)  # one hop per 10 ms, on the same grid
    assert np.allclose(hops["t_s"], np.arange(len(speaking)) * 0.01)
    opened = hops["open"][speaking] > 0.1
    shut = hops["open"][pauses] < 0.05
    print(f"offline: {opened.mean():.1%} of {len(opened)} speech hops open, {shut.mean():.1%} of {len(shut)} pause hops shut")
    assert speaking.sum() > 300 and pauses.sum() > 100
    assert opened.mean() >= 0.97
    assert shut.mean() == 1.0
    # the loud syllables open it wide, the mouth is not just flickering above zero
    assert np.percentile(hops["open"][speaking], 75) > 0.6


def test_video_frames_get_the_sound_at_their_own_time(tmp_path: Path) -> None:
    """Frame i of a 25 fps video gets the mouth at i / 25 s of its sound (file-relative clock)."""
    tone = np.concatenate([np.zeros(SAMPLE_RATE), sine(220, 1.0, -10), np.zeros(SAMPLE_RATE)])
    track = analyse_file(write_wav(tmp_path / "tone.wav", tone), CALIBRATION)
    frames = track.frames(25)
    assert len(frames) == 75 and track.duration_s == pytest.approx(3.0)
    assert all(f.open == 0 for f in frames[:24])  # silence up to 0.96 s (the 25 ms window reaches 0.9725 s)
    assert 0.2 < frames[25].open < 0.7 < frames[27].open  # 1.0 s: opening (attack 20 ms), 1.08 s: open
    assert all(f.open > 0.99 for f in frames[28:50])
    # closing with the release time constant (90 ms) from the last hop whose window held tone (2.01 s)
    assert frames[51].open == pytest.approx(np.exp(-0.03 / 0.09), abs=0.01)
    assert frames[56].open == pytest.approx(np.exp(-0.23 / 0.09), abs=0.01)
    assert all(f.open == 0 for f in frames[65:])  # below 0.005 reads as shut
    assert track.at(1.5).open == pytest.approx(1.0) and frames[37].open == pytest.approx(1.0)
    between = track.at(1.005)  # halfway between the hops at 1.00 and 1.01 s
    assert between.open == pytest.approx((track.at(1.0).open + track.at(1.01).open) / 2)


def test_a_tone_at_the_noise_floor_does_not_open_it_but_one_above_does() -> None:
    at_floor = analyse_samples(_room(sine(150, 3.0, CALIBRATION.noise_floor_db)), SAMPLE_RATE, CALIBRATION)
    assert at_floor.arrays()["open"].max() == 0.0
    above = analyse_samples(_room(sine(150, 3.0, CALIBRATION.noise_floor_db + 30)), SAMPLE_RATE, CALIBRATION)
    # linear in dB from the gate (floor + 6 dB) to the speech level: (30 - 6) / (42 - 6)
    assert np.median(above.arrays()["open"]) == pytest.approx(24 / 36, abs=0.02)


def test_attack_and_release_follow_their_time_constants() -> None:
    settings = AudioSettings(attack_ms=30.0, release_ms=120.0)
    tone = np.concatenate([np.zeros(SAMPLE_RATE), sine(200, 1.0, -6), np.zeros(SAMPLE_RATE)])
    hops = analyse_samples(tone, SAMPLE_RATE, CALIBRATION, settings).arrays()
    t, opened = hops["t_s"], hops["open"]
    # a tone this loud opens fully as soon as a few ms of it are in the window, and shuts only when the
    # window is empty of it: the jaw then follows a first-order lag from the last shut / fully open hop
    last_shut = t[np.argmax(opened > 0) - 1]
    last_full = t[len(t) - 1 - np.argmax(opened[::-1] >= 0.999)]
    rise = t[np.argmax(opened >= 1 - np.exp(-1))] - last_shut
    fall = t[np.argmax((t > last_full) & (opened <= np.exp(-1)))] - last_full
    assert rise == pytest.approx(0.030, abs=0.0101)
    assert fall == pytest.approx(0.120, abs=0.0101)


@pytest.mark.parametrize("voice", ["en-us", "en-us+f3", "en-gb"])
def test_ee_reads_wide_oo_reads_round_ah_neither(voice: str) -> None:
    def shape(phonemes: str) -> tuple[float, float]:
        hops = analyse_samples(espeak(phonemes, voice=voice, speed=80), SAMPLE_RATE, CALIBRATION).arrays()
        voiced = hops["open"] > 0.5
        assert voiced.sum() > 50
        return float(np.median(hops["wide"][voiced])), float(np.median(hops["round"][voiced]))

    ee, oo, ah = shape("[[i:i:i:i:]]"), shape("[[u:u:u:u:]]"), shape("[[A:A:A:A:]]")
    print(f"{voice}: ee wide/round {ee[0]:.2f}/{ee[1]:.2f}, oo {oo[0]:.2f}/{oo[1]:.2f}, ah {ah[0]:.2f}/{ah[1]:.2f}")
    assert ee[0] > 0.8 and ee[1] < 0.15
    assert oo[1] > 0.6 and oo[0] < 0.3
    assert ah[0] < 0.1 and ah[1] < 0.1


def test_analysis_cpu_per_second_of_sound() -> None:
    """Process time of the analysis over a minute of speech: all at once (render/pose) and in 10 ms
    blocks back to back (the live thread's work without its waits between blocks)."""
    speech = _room(np.tile(speech_with_pauses(), 6))
    seconds = len(speech) / SAMPLE_RATE
    start = time.process_time()
    analyse_samples(speech, SAMPLE_RATE, CALIBRATION)
    whole_ms = (time.process_time() - start) / seconds * 1000
    analyser = MouthAnalyser(SAMPLE_RATE, AudioSettings(), CALIBRATION)
    block = SAMPLE_RATE // 100
    start = time.process_time()
    for i in range(0, len(speech), block):
        analyser.feed(speech[i : i + block], i * 62_500)
    blocks_ms = (time.process_time() - start) / seconds * 1000
    print(f"analysis CPU per second of sound ({seconds:.0f} s): {whole_ms:.2f} ms at once, {blocks_ms:.2f} ms in 10 ms blocks")
    assert whole_ms < 20 and blocks_ms < 20  # 2% of one core at most


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(RainError, match="sound file not found"):
        analyse_file(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(RainError, match="cannot read sound file .*bad.wav"):
        analyse_file(bad)
