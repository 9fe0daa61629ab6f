"""The audio tests' microphone: a PulseAudio null sink's monitor (tests/microphone.py)."""

from tests.microphone import pulse, pulse_server  # noqa: F401 (fixtures)
