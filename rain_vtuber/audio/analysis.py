"""Sound -> mouth shape, one hop every 10 ms: loudness opens the jaw, the balance of bands shapes it.

open: the RMS level of a 25 ms window in dBFS, mapped linearly from the gate (noise floor +
gate_db: shut) to the calibrated speech level (fully open), then shaped by attack/release time
constants (the jaw opens fast and closes a little slower, as a real one does).

wide and round come from two band-energy ratios of the same window's spectrum (no formant
tracking, two dot products per hop):
  H = 10 log10 E(1800-4000 Hz) / E(150-1800 Hz): a high second formant, i.e. spread lips (i, e);
  L = 10 log10 E(150-450 Hz) / E(750-4000 Hz): everything low, i.e. rounded lips (o, u).
Measured on espeak-ng sustained vowels (12 English voices x 3 pitches, 10 ms hops, median of the
voiced hops): H is -5.1 dB for i and -4.3 for e (medians; the lowest of all 72 is -8.7) against
-15.1 for a, -16.2 for o and -11.3 for u (the highest of those 180 is -8.3); L is +7.2 for u
(lowest +4.6) against -11.4 for a and -5.9 for the "uh" of "but". i has a high L as well (its
first formant is as low as u's), which is why round is taken only from what is not wide.
WIDE_RAMP and ROUND_RAMP below sit between those groups. Both shapes only move while the voice
is well above the gate (a noisy near-silent window has no vowel) and ease over VOWEL_TAU_S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from rain_vtuber.audio.settings import AudioCalibration, AudioSettings
from rain_vtuber.face.mouth import Mouth

HOP_S = 0.010
"""One mouth shape per 10 ms of sound (100 per second, above any output frame rate)."""
WINDOW_S = 0.025
"""Each shape measures the 25 ms around its time (enough for the low bands at 150 Hz)."""
WIDE_BANDS = ((1800.0, 4000.0), (150.0, 1800.0))  # H: numerator band, denominator band (Hz)
ROUND_BANDS = ((150.0, 450.0), (750.0, 4000.0))  # L
WIDE_RAMP = (-11.0, -6.0)
"""H in dB: wide 0 at or below the first value, 1 at or above the second."""
ROUND_RAMP = (-3.0, 4.0)
"""L in dB: round 0 at or below the first value, 1 at or above the second (times 1 - wide)."""
VOWEL_TAU_S = 0.04
VOWEL_MIN_OPEN = 0.2
"""The vowel shapes follow only hops whose loudness alone would open the jaw at least this far."""
SILENCE_DB = -120.0
"""The level of digital silence (the floor of the log)."""


@dataclass(frozen=True)
class Hop:
    """One analysed hop: the sound around t_ns (its window's centre) and the mouth it makes."""

    t_ns: int
    level_db: float
    open: float
    wide: float
    round: float

    @property
    def mouth(self) -> Mouth:
        return Mouth(self.open, self.wide, self.round)


class MouthAnalyser:
    """Streaming analysis: feed() blocks of samples with the capture time of their first sample.

    Not thread-safe: one owner (the analysis thread, or the offline pass). Any sample rate works;
    the hop, window and bands are set in seconds and hertz.
    """

    def __init__(self, sample_rate: int, settings: AudioSettings, calibration: AudioCalibration) -> None:
        self.sample_rate = int(sample_rate)
        self.hop, self.window = _sizes(self.sample_rate)
        self.hop_ns = round(self.hop * 1e9 / self.sample_rate)
        self._nfft = 1 << (self.window - 1).bit_length()
        self._taper = np.hanning(self.window).astype(np.float32)
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / self.sample_rate)
        bands = [*WIDE_BANDS, *ROUND_BANDS]
        self._bands = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in bands], axis=1).astype(np.float64)
        hop_s = self.hop / self.sample_rate
        self._attack = _smoothing(hop_s, settings.attack_ms / 1000)
        self._release = _smoothing(hop_s, settings.release_ms / 1000)
        self._vowel = _smoothing(hop_s, VOWEL_TAU_S)
        self._gate_db = settings.gate_db
        self.set_calibration(calibration)
        self.reset()

    def set_calibration(self, calibration: AudioCalibration) -> None:
        """New floor and speech levels, from the next hop on."""
        self._closed_db = calibration.noise_floor_db + self._gate_db
        self._full_db = max(calibration.speech_db, self._closed_db + 1.0)

    def reset(self) -> None:
        """Forget the stream so far (a reopened device: its samples do not continue the old ones)."""
        self._pending = np.zeros(0, np.float32)
        self._open = self._wide = self._round = 0.0
        self._last_ns: int | None = None

    def feed(self, samples: np.ndarray, first_ns: int) -> list[Hop]:
        """Mono float32 samples in [-1, 1], the first captured at first_ns -> the hops completed.

        A hop's time is the capture time of its window's centre; times only increase.
        """
        buf = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).reshape(-1)])
        count = (len(buf) - self.window) // self.hop + 1 if len(buf) >= self.window else 0
        origin = len(self._pending)  # buf index of the block's first sample
        if count == 0:
            self._pending = buf
            return []
        frames = as_strided(buf, (count, self.window), (self.hop * buf.strides[0], buf.strides[0]), writeable=False)
        mean_square = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / self.window
        power = np.abs(np.fft.rfft(frames * self._taper, n=self._nfft, axis=1)) ** 2
        energy = power @ self._bands + 1e-20
        features = np.stack([mean_square, energy[:, 0] / energy[:, 1], energy[:, 2] / energy[:, 3]], axis=1)
        levels, wide_db, round_db = (10 * np.log10(np.maximum(features, 1e-30))).T.tolist()
        centres = np.arange(count) * self.hop + self.window // 2 - origin
        times = (first_ns + np.round(centres * (1e9 / self.sample_rate))).astype(np.int64).tolist()
        hops = []
        for t, level, wide_db_i, round_db_i in zip(times, levels, wide_db, round_db):
            level = max(level, SILENCE_DB)
            target = _ramp(level, self._closed_db, self._full_db)
            self._open += (target - self._open) * (self._attack if target > self._open else self._release)
            if target >= VOWEL_MIN_OPEN:
                wide = _ramp(wide_db_i, *WIDE_RAMP)
                rounded = _ramp(round_db_i, *ROUND_RAMP) * (1.0 - wide)
                self._wide += (wide - self._wide) * self._vowel
                self._round += (rounded - self._round) * self._vowel
            if self._last_ns is not None and t <= self._last_ns:
                t = self._last_ns + 1  # a late block stamp must not step back in time
            self._last_ns = t
            hops.append(Hop(t, level, _unit(self._open), _unit(self._wide), _unit(self._round)))
        self._pending = buf[count * self.hop :]
        return hops


def _sizes(sample_rate: int) -> tuple[int, int]:
    return max(1, round(HOP_S * sample_rate)), max(2, round(WINDOW_S * sample_rate))


def _smoothing(step_s: float, tau_s: float) -> float:
    """The share of the way to the target covered in one step of a first-order lag."""
    return 1.0 if tau_s <= 0 else 1.0 - math.exp(-step_s / tau_s)


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 1 at or above `high`, linear between."""
    if value >= high:
        return 1.0
    return 0.0 if value <= low else (value - low) / (high - low)


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))
