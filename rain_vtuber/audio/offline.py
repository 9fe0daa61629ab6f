"""A whole recording analysed at once, on its own clock: frame i of a video at i / fps gets the
mouth of the sound at i / fps (`render` and `pose` of a recorded face with its sound)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rain_vtuber.audio.analysis import MouthAnalyser
from rain_vtuber.audio.capture import read_sound
from rain_vtuber.audio.settings import AudioCalibration, AudioSettings
from rain_vtuber.audio.track import MouthTrack


def analyse_file(path: Path, calibration: AudioCalibration | None = None,
                 settings: AudioSettings | None = None) -> MouthTrack:
    """A WAV/FLAC/OGG/MP3 file -> its MouthTrack (RainError if it cannot be read)."""
    samples, rate = read_sound(Path(path))
    return analyse_samples(samples, rate, calibration, settings)


def analyse_samples(samples: np.ndarray, sample_rate: int, calibration: AudioCalibration | None = None,
                    settings: AudioSettings | None = None) -> MouthTrack:
    """Mono float32 samples in [-1, 1] -> MouthTrack; the hops sit at 0, 10 ms, 20 ms, ... exactly.

    The same analysis as a live input (attack, release, gate, vowels), so a file and a microphone
    playing it give the same mouth.
    """
    settings = settings or AudioSettings()
    analyser = MouthAnalyser(sample_rate, settings, calibration or AudioCalibration())
    pad = np.zeros(analyser.window // 2, np.float32)  # centres the first window on t = 0
    hops = analyser.feed(np.concatenate([pad, np.asarray(samples, np.float32).reshape(-1), pad]),
                         first_ns=-round(len(pad) * 1e9 / sample_rate))
    return MouthTrack(hops, analyser.hop_ns, settings.release_ms, duration_s=len(samples) / sample_rate)
