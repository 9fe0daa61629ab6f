"""Microphone lip sync: sound from a microphone or a sound file -> a Mouth on the daemon's clock.

Live (daemon, calibrate page):

    from rain_vtuber.audio import AudioCalibration, AudioSettings, open_lipsync
    lipsync = open_lipsync(config.audio, calibration.audio)  # None when audio.input is null or mode off
    ...                                                      # RainError: no such device / unreadable file
    mouth = lipsync.mouth_at(face.timestamp_ns)              # Mouth | None, from any thread, never blocks
    mouth = lipsync.mouth_at(time.monotonic_ns() - lipsync.delay_ns)  # "now", with sound behind it
    lipsync.status()                                         # dict for /rain/status (see LipSync.status)
    lipsync.set_calibration(new_calibration.audio)           # on reload / character switch
    lipsync.stop()

mouth_at(t) answers for the sound captured at t (monotonic ns): interpolated between 10 ms hops;
silence (the jaw closing over release_ms) when t is newer than the newest sound or falls in a gap
(a silent or stalled input); None only while the input is off or failed. A device that stops
delivering is reopened with backoff; status() reports state, error, level, overflows, stalls,
reopens, capture-to-available delay p50/p95 and the analysis CPU per second of sound.

Offline (render, pose of a recorded face): the file's own clock, frame i at i / fps:

    track = analyse_file(Path("take.wav"), calibration.audio)   # MouthTrack
    mouth = track.at(i / fps); mouths = track.frames(fps)

Devices: input_devices() -> [InputDevice]; find_input_device(name | index | None) (RainError
listing them when nothing matches). Settings: AudioSettings (the daemon config's `audio:`),
AudioCalibration (a character calibration's `audio:`). Calibration from recordings:
noise_floor(levels), speech_level(levels, floor, gate_db), with_levels(calibration, ...).
"""

from rain_vtuber.audio.calibration import noise_floor, speech_level, with_levels
from rain_vtuber.audio.devices import PORTAUDIO_FIX, InputDevice, find_input_device, input_devices
from rain_vtuber.audio.lipsync import LipSync, open_lipsync
from rain_vtuber.audio.offline import analyse_file, analyse_samples
from rain_vtuber.audio.settings import AudioCalibration, AudioMode, AudioSettings
from rain_vtuber.audio.track import MouthTrack

__all__ = [
    "PORTAUDIO_FIX",
    "AudioCalibration",
    "AudioMode",
    "AudioSettings",
    "InputDevice",
    "LipSync",
    "MouthTrack",
    "analyse_file",
    "analyse_samples",
    "find_input_device",
    "input_devices",
    "noise_floor",
    "open_lipsync",
    "speech_level",
    "with_levels",
]
