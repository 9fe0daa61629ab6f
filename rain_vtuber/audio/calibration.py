"""Recorded levels -> AudioCalibration: a few seconds of room silence, a few seconds of normal speech.

The noise floor is the loud end of the silence (its 90th percentile: a breath or a fan's swell
must not open the mouth); the speech level is the 90th percentile of the speech hops that rise
above the gate, i.e. the stressed syllables of normal speech, where the mouth opens fully.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pydantic import ValidationError

from rain_vtuber.audio.settings import AudioCalibration
from rain_vtuber.errors import RainError

PERCENTILE = 90.0
MIN_HOPS = 50
"""Half a second of 10 ms hops: less means the input delivered (almost) nothing."""
MIN_VOICED_SHARE = 0.15
"""At least this share of a speech recording must rise above the gate."""


def noise_floor(levels: Sequence[float]) -> float:
    """Levels (dBFS) of a room-silence recording -> noise_floor_db."""
    _enough(levels, "room silence")
    return round(float(np.percentile(levels, PERCENTILE)), 1)


def speech_level(levels: Sequence[float], noise_floor_db: float, gate_db: float) -> float:
    """Levels (dBFS) of a normal-speech recording -> speech_db (RainError if it is hardly above the room)."""
    _enough(levels, "speech")
    values = np.asarray(levels, dtype=np.float64)
    voiced = values[values > noise_floor_db + gate_db]
    if len(voiced) < MIN_VOICED_SHARE * len(values):
        raise RainError(
            f"the speech was hardly louder than the room ({len(voiced)} of {len(values)} hops above "
            f"{noise_floor_db + gate_db:.1f} dBFS): speak at your streaming volume, closer to the microphone "
            "or with more input gain, or record the room silence again"
        )
    return round(float(np.percentile(voiced, PERCENTILE)), 1)


def with_levels(current: AudioCalibration, noise_floor_db: float | None = None,
                speech_db: float | None = None) -> AudioCalibration:
    """current with the recorded values replaced; RainError saying what to redo if they do not fit."""
    data = current.model_dump()
    if noise_floor_db is not None:
        data["noise_floor_db"] = max(noise_floor_db, -120.0)
    if speech_db is not None:
        data["speech_db"] = speech_db
    try:
        return AudioCalibration.model_validate(data)
    except ValidationError as err:
        raise RainError(
            f"speech {data['speech_db']:.1f} dBFS is not 10 dB above the room's {data['noise_floor_db']:.1f} dBFS: "
            "record room silence with nobody speaking, then speech at your normal streaming volume"
        ) from err


def _enough(levels: Sequence[float], what: str) -> None:
    if len(levels) < MIN_HOPS:
        raise RainError(
            f"hardly any sound arrived while recording {what} ({len(levels)} hops): check the microphone "
            "(`rain-vtuber doctor` lists the inputs) and try again"
        )
