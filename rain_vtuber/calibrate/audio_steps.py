"""The calibrate page's two microphone steps: room silence -> noise floor, normal speech -> speech level."""

from __future__ import annotations

from typing import Sequence

from rain_vtuber.audio import AudioCalibration, noise_floor, speech_level, with_levels

AUDIO_STEPS = {"room_silence": "Room silence", "speech": "Normal speech"}
"""Step key -> what the page calls it."""
PROMPTS = {"room_silence": ("quiet", "stay quiet"), "speech": ("talk", "talk as you do on stream")}
"""Step key -> (what the countdown overlay says while it records, what the page asks)."""
NO_AUDIO = (
    "No microphone: start calibrate with --audio DEVICE (a name or part of it, or an index; "
    "`rain-vtuber doctor` lists them) or --audio FILE.wav to calibrate lip sync"
)


def measure_audio(step: str, levels: Sequence[float], current: AudioCalibration,
                  gate_db: float) -> tuple[AudioCalibration, str]:
    """The hop levels (dBFS) recorded during a step -> (the calibration with it applied, what the page says).

    RainError says what to redo (no sound arrived, speech hardly above the room, levels out of order).
    """
    if step == "room_silence":
        floor = noise_floor(levels)
        return with_levels(current, noise_floor_db=floor), f"room noise floor {floor:.1f} dBFS ({len(levels)} hops)"
    if step == "speech":
        level = speech_level(levels, current.noise_floor_db, gate_db)
        return with_levels(current, speech_db=level), f"speech level {level:.1f} dBFS ({len(levels)} hops)"
    raise ValueError(f"unknown audio step {step!r}")
