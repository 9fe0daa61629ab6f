"""Microphone lip sync: sound from a microphone or a sound file -> a Mouth on the daemon's clock.

Live (daemon, calibrate page):

    from rain_vtuber.audio import AudioSettings, open_lipsync
    lipsync = open_lipsync(config.audio, calibration.audio)  # a started LipSync, or None when audio is off
    #   RainError at once for a device name that matches nothing (listing the inputs) or a bad file
    mouth = lipsync.mouth_at(face.timestamp_ns)               # Mouth | None, any thread, never blocks
    mouth = lipsync.mouth_at(time.monotonic_ns() - lipsync.delay_ns)  # "now", with sound behind it
    lipsync.status()                                          # JSON-ready dict for /rain/status
    lipsync.set_calibration(new_calibration.audio)            # on reload / character switch
    lipsync.stop()

mouth_at(t) is the mouth for the sound captured at t (time.monotonic_ns()), interpolated between
10 ms hops. When t is newer than the newest sound or falls in a gap (a silent monitor, a stalled
device), it is silence: the jaw closes over release_ms from the last shape heard, then Mouth(0).
It is None only while the input is off (not started, stopped) or failed (cannot be opened; retried
with backoff). A device that stops delivering for stall_s is closed and opened again; status()
reports state, error, level, overflows, stalls, reopens, failed opens, the capture-to-available
delay p50/p95 and the analysis CPU per second of sound. AudioSettings.mode (off, when_lost,
blend, always) is for the face side to apply; this package only carries it.

Offline (render, pose of a recorded face), on the recording's own clock:

    track = analyse_file(Path("take.wav"), calibration.audio, config.audio)  # MouthTrack
    mouth = track.at(i / fps); mouths = track.frames(fps)                    # frame i at i / fps

Also: LipSync(settings, calibration).start() (what open_lipsync does), lipsync.hops_between(a, b)
(the analysed hops, for calibration); input_devices() -> [InputDevice], find_input_device(name |
index | None); AudioSettings (the daemon config's `audio:`), AudioSettings.from_flag("--audio
value"), AudioCalibration (a character calibration's `audio:`); noise_floor(levels),
speech_level(levels, floor, gate_db), with_levels(calibration, ...) turn recorded levels into a
calibration.
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
