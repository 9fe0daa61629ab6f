"""The daemon's sampler with a real microphone: espeak-ng speech played into PulseAudio opens the drawn
mouth in the words and shuts it in the pauses, pose by pose, on the clock of the face it samples.

The tracked face keeps its mouth shut (a hand or a microphone in front of it); the sound alone opens
it (`blend`), through the face rig, so the inner-lip points move as for a real open mouth. Each pose is
judged against the sound the lip sync heard at the instant that pose's face was captured.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from rain_vtuber.audio import AudioCalibration, AudioSettings, LipSync
from rain_vtuber.daemon.sampler import Sampler
from rain_vtuber.face import FaceDriver, IdleOptions
from rain_vtuber.face.rig import face_from_blend_shapes
from rain_vtuber.landmarks import Calibration, PoseRenderer
from tests.microphone import Pulse, pulse, pulse_server, sine, speech_with_pauses  # noqa: F401 (fixtures)
from tests.waiting import wait_until

CALIBRATION = AudioCalibration(noise_floor_db=-60.0, speech_db=-18.0)
FPS = 30
GUARD_S = 0.3  # the jaw closes over its release time: poses this near a word are neither speech nor pause


def _inner_lip_gap(renderer: PoseRenderer) -> float:
    """Inner-lip opening of the last pose (points 62 to 66, output-normalised)."""
    points = renderer.last_points
    return float(points[66, 1] - points[62, 1])


@pytest.mark.e2e  # seconds of speech in real time through PulseAudio
def test_speech_opens_the_drawn_mouth_in_words_and_shuts_it_in_pauses(pulse: Pulse) -> None:
    renderer = PoseRenderer(Calibration(), 512, 512)
    driver = FaceDriver(IdleOptions(enabled=False), audio_mode="blend")
    tone = pulse.room_tone()
    pulse.wait_running()
    with LipSync(AudioSettings(input="pulse"), CALIBRATION) as lipsync:
        sampler = Sampler(renderer, lambda: 4, driver,
                          lambda captured: lipsync.mouth_at(lipsync.heard_at(captured, time.monotonic_ns())))
        wait_until(lambda: lipsync.status()["state"] == "listening", 10, 0.02, "the microphone to deliver sound")
        pulse.play(sine(300, 0.2, -70)).wait(10)  # PulseAudio delays a new stream's first sound: a blip first
        player = pulse.play(speech_with_pauses())
        poses: list[tuple[int, float]] = []  # (the instant whose sound the pose shows, its mouth gap)
        while player.poll() is None or len(poses) < FPS:
            now = time.monotonic_ns()
            face = face_from_blend_shapes({"jawOpen": 0.0}, (0.0, 0.0, 0.0), None, (0.0, 0.0, 0.0), "camera")
            sampler.sample(face, face.timestamp_ns, now)
            poses.append((lipsync.heard_at(face.timestamp_ns, time.monotonic_ns()), _inner_lip_gap(renderer)))
            time.sleep(max(0.0, 1 / FPS - (time.monotonic_ns() - now) / 1e9))
        time.sleep(0.3)
        heard = lipsync.hops_between(poses[0][0] - 10**9, poses[-1][0] + 10**9)
    tone.kill()

    t = np.array([h.t_ns for h in heard])
    voiced = np.array([h.level_db for h in heard]) > CALIBRATION.noise_floor_db + AudioSettings().gate_db + 4
    speaking, pausing, shut = [], [], max(gap for _, gap in poses[:5])  # before the words: the tracked, shut mouth
    for instant, gap in poses:
        near = np.abs(t - instant) <= GUARD_S * 1e9
        if voiced[np.argmin(np.abs(t - instant))]:
            speaking.append(gap)
        elif not voiced[near].any():
            pausing.append(gap)
    wide = np.percentile(speaking, 90)
    opened = np.mean(np.array(speaking) > shut + 0.25 * (wide - shut))
    closed = np.mean(np.array(pausing) < shut + 0.05 * (wide - shut))
    print(f"\nsampler + microphone: {opened:.1%} of {len(speaking)} speech poses open, {closed:.1%} of "
          f"{len(pausing)} pause poses shut (gap shut {shut:.4f}, open p90 {wide:.4f})")
    assert len(speaking) > 3 * FPS and len(pausing) > FPS
    assert wide > shut + 0.02  # the sound opens the inner lips visibly (about 10 pixels at 512)
    assert opened >= 0.9 and closed >= 0.95
    assert driver.status()["audio"]
