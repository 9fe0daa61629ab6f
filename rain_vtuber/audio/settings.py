"""The `audio:` settings of the daemon config and the `audio:` section of a character's calibration.

Both are strict (unknown keys, wrong types and out-of-range values are errors) and every field has a
default, so an absent section means "the defaults". The settings say where sound comes from and how
the mouth follows it; the calibration says how loud this user's room and voice are.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from rain_vtuber.errors import RainError
from rain_vtuber.face.mouth import MouthMode
from rain_vtuber.utils.strict import StrictModel
from rain_vtuber.utils.validation import describe_errors

AUDIO_FILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
"""Suffixes that make `input` a sound file rather than a device name (what libsndfile reads)."""

AudioMode = MouthMode  # how the sound's mouth meets the tracked one; the face side applies it


class AudioCalibration(StrictModel):
    """How loud this user's room and voice are, in dBFS of 10 ms hops (0 dBFS = full scale).

    noise_floor_db: the room with nobody speaking (the loud end of it); the mouth stays shut below
    noise_floor_db + AudioSettings.gate_db. speech_db: the peaks of normal speech; the mouth opens
    fully there. Defaults fit a typical USB or headset microphone at normal gain.
    """

    noise_floor_db: float = Field(-55.0, ge=-120.0, le=0.0)
    speech_db: float = Field(-25.0, ge=-100.0, le=0.0)

    @model_validator(mode="after")
    def _speech_above_floor(self) -> "AudioCalibration":
        if self.speech_db < self.noise_floor_db + 10.0:
            raise ValueError(
                f"speech_db ({self.speech_db}) must be at least 10 dB above noise_floor_db ({self.noise_floor_db})"
            )
        return self


class AudioSettings(StrictModel):
    """Where the sound comes from and how the mouth follows it (the daemon config's `audio:`)."""

    input: int | str | None = Field(
        None,
        description="microphone name (part of it, any case) or index, 'default', or a WAV/FLAC file; null = off",
    )
    mode: AudioMode = Field(
        "blend", description="off, when_lost (sound drives the mouth only while no face is tracked), blend, always"
    )
    loop: bool = Field(False, description="a file input starts over at its end (else it falls silent)")
    sample_rate: int | None = Field(16000, ge=8000, le=192000, description="asked of the device; null = its own")
    block_ms: float = Field(10.0, ge=2.0, le=100.0, description="capture block length")
    attack_ms: float = Field(20.0, ge=0.0, le=1000.0, description="time constant of the mouth opening")
    release_ms: float = Field(90.0, ge=0.0, le=2000.0, description="time constant of the mouth closing")
    gate_db: float = Field(6.0, ge=0.0, le=40.0, description="the mouth stays shut up to this far above the noise floor")
    stall_s: float = Field(1.0, ge=0.1, le=60.0, description="no capture block for this long: reopen the device")

    @model_validator(mode="after")
    def _known_input(self) -> "AudioSettings":
        if isinstance(self.input, int) and self.input < 0:
            raise ValueError(f"input: a device index is 0 or more, got {self.input}")
        if isinstance(self.input, str) and not self.input.strip():
            raise ValueError("input: empty; use a device name, an index, a sound file, or null for off")
        return self

    @property
    def enabled(self) -> bool:
        return self.input is not None and self.mode != "off"

    @property
    def input_file(self) -> Path | None:
        """The input as a sound file (a path with a separator or a sound-file suffix), else None."""
        value = self.input
        if not isinstance(value, str):
            return None
        if "/" in value or "\\" in value or value.lower().endswith(AUDIO_FILE_SUFFIXES):
            return Path(value).expanduser()
        return None

    @classmethod
    def from_flag(cls, text: str, **settings: object) -> "AudioSettings":
        """--audio TEXT: digits are a device index, anything else a device name or a file path."""
        value: int | str = int(text) if text.strip().isdigit() else text
        try:
            return cls.model_validate({"input": value, **settings})
        except ValidationError as err:
            raise RainError(f"--audio {text!r}: {describe_errors(err, cls)}") from None

    def relative_to(self, folder: Path) -> "AudioSettings":
        """A relative file input resolved against `folder` (a config file's folder)."""
        path = self.input_file
        if path is None or path.is_absolute():
            return self
        return self.model_copy(update={"input": str(Path(folder) / path)})
