"""LipSync on a real microphone: a PulseAudio null sink's monitor, read by PortAudio, hearing espeak-ng
speech played with paplay. The mouth is checked frame by frame (60 fps) against the speech envelope
computed with numpy from the WAV that was played."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from rain_vtuber.audio import AudioCalibration, AudioSettings, LipSync
from rain_vtuber.errors import RainError
from rain_vtuber.face.mouth import Mouth
from tests.microphone import (
    HOP_S,
    SAMPLE_RATE,
    Pulse,
    envelope_db,
    espeak,
    sine,
    speech_and_pauses,
    speech_with_pauses,
    write_wav,
)
from tests.waiting import wait_until

CALIBRATION = AudioCalibration(noise_floor_db=-60.0, speech_db=-18.0)
VOICE_DB = CALIBRATION.noise_floor_db + AudioSettings().gate_db + 4
FPS = 60


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return speech_with_pauses()


@pytest.fixture
def room(pulse: Pulse) -> Iterator[Pulse]:
    """The microphone hears a quiet room all the time (blocks arrive, as from a real microphone)."""
    tone = pulse.room_tone()
    pulse.wait_running()
    yield pulse
    tone.kill()
    tone.wait()


def _listening(lipsync: LipSync) -> None:
    wait_until(lambda: lipsync.status()["state"] == "listening", 10, 0.02, "the microphone to deliver sound")


def _play(pulse: Pulse, samples: np.ndarray, tail_s: float = 0.4) -> int:
    """Play to the end (plus tail_s); returns time.monotonic_ns() just before paplay started."""
    started = time.monotonic_ns()
    player = pulse.play(samples)
    assert player.wait(60) == 0
    time.sleep(tail_s)
    return started


def _warm_up(pulse: Pulse) -> None:
    """PulseAudio delays the first sound after a stream opens by up to a few hundred ms; play a blip first."""
    _play(pulse, sine(300, 0.2, -70), tail_s=0.3)


def _lag_s(lipsync: LipSync, start_ns: int, samples: np.ndarray, span: tuple[float, float] | None = None,
           search: tuple[float, float] = (0.0, 1.0)) -> float:
    """Seconds from `start_ns` to the capture time of the recording's first sample, found by sliding
    the live hop levels over the WAV's numpy envelope (in `span` seconds of the WAV; best correlation
    among lags in `search`, 1 ms steps)."""
    hops = lipsync.hops_between(start_ns, start_ns + int((len(samples) / SAMPLE_RATE + 2) * 1e9))
    t = np.array([h.t_ns - start_ns for h in hops]) / 1e9
    level = np.maximum([h.level_db for h in hops], -70)
    expected = np.maximum(envelope_db(samples), -70)
    grid = np.arange(len(expected)) * HOP_S
    inside = slice(None) if span is None else (grid >= span[0]) & (grid < span[1])
    lags = np.arange(search[0], search[1], 0.001)
    scores = [np.corrcoef(np.interp(grid[inside] + lag, t, level), expected[inside])[0, 1] for lag in lags]
    best = int(np.argmax(scores))
    assert scores[best] > 0.8, f"the live levels do not follow the speech (best correlation {scores[best]:.2f})"
    return float(lags[best])


def _phrases(samples: np.ndarray) -> list[tuple[float, float]]:
    """The WAV cut in the middle of its long pauses: one span per phrase and the pause after it."""
    quiet = envelope_db(samples) < VOICE_DB
    edges, run = [0.0], 0
    for i, silent in enumerate(quiet):
        if not silent and run >= round(0.8 / HOP_S) and i > run:  # speech again after a long pause
            edges.append((i - run / 2) * HOP_S)
        run = run + 1 if silent else 0
    return list(zip(edges, edges[1:] + [len(samples) / SAMPLE_RATE]))


def _frames(lipsync: LipSync, start_ns: int, samples: np.ndarray, exact: bool = False) -> tuple[list[Mouth | None], float]:
    """The mouth of each 60 fps frame of the WAV as captured, and the lag of its first phrase.

    Each phrase gets its own lag (near the first one): an underrun of paplay's buffer between
    phrases shifts the rest of the speech, which says nothing about the microphone.
    """
    phrases = _phrases(samples)
    lag = shift = _lag_s(lipsync, start_ns, samples, phrases[0])
    frames: list[Mouth | None] = []
    for begin, end in phrases:
        if not exact:
            shift = _lag_s(lipsync, start_ns, samples, (begin, end), (shift - 0.05, shift + 0.3))
        first, last = round(begin * FPS), round(end * FPS)
        frames += [lipsync.mouth_at(start_ns + round((i / FPS + shift) * 1e9)) for i in range(first, last)]
    return frames, lag


def _shares(frames: list[Mouth | None], samples: np.ndarray) -> tuple[float, float, int, int]:
    """(share of speech frames open, share of pause frames shut, their counts) against the envelope."""
    speaking, pauses = speech_and_pauses(samples, VOICE_DB)
    index = np.minimum(np.round(np.arange(len(frames)) / FPS / HOP_S).astype(int), len(speaking) - 1)
    opens = np.array([f.open if f is not None else np.nan for f in frames])
    in_speech, in_pause = opens[speaking[index]], opens[pauses[index]]
    return float(np.mean(in_speech > 0.1)), float(np.mean(in_pause < 0.05)), len(in_speech), len(in_pause)


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_speech_opens_the_mouth_in_words_and_shuts_it_in_pauses(room: Pulse, speech: np.ndarray) -> None:
    with LipSync(AudioSettings(input="pulse"), CALIBRATION) as lipsync:
        _listening(lipsync)
        _warm_up(room)
        now_frames: list[tuple[float, Mouth | None]] = []
        call_ns: list[int] = []
        stop = threading.Event()

        def sample_now() -> None:  # the daemon's way: 60 times a second, "now" minus the delay
            while not stop.wait(1 / FPS):
                begin = time.monotonic_ns()
                mouth = lipsync.mouth_at(begin - lipsync.delay_ns)
                call_ns.append(time.monotonic_ns() - begin)
                now_frames.append((begin, mouth))

        sampler = threading.Thread(target=sample_now)
        sampler.start()
        started = _play(room, speech)
        stop.set()
        sampler.join()
        status = lipsync.status()
        frames, lag = _frames(lipsync, started, speech)

    opened, shut, n_speech, n_pause = _shares(frames, speech)
    print(f"\nmicrophone: sound captured {lag * 1000:.0f} ms after paplay started; {opened:.1%} of {n_speech} "
          f"speech frames open, {shut:.1%} of {n_pause} pause frames shut; capture-to-available delay "
          f"p50 {status['delay_ms_p50']} ms, p95 {status['delay_ms_p95']} ms; analysis {status['cpu_ms_per_s']} ms CPU "
          f"per s of sound; mouth_at() p99 {np.percentile(call_ns, 99) / 1e3:.0f} us over {len(call_ns)} calls")
    assert 0.0 <= lag <= 0.6  # never before paplay started (the stamps are causal), nor much later
    assert opened >= 0.95 and shut >= 0.98
    assert n_speech > 200 and n_pause > 50
    assert status["overflows"] == 0 and status["stalls"] == 0 and status["dropped_blocks"] == 0
    assert 0 < status["delay_ms_p50"] < 80 and status["delay_ms_p95"] < 150
    assert status["cpu_ms_per_s"] < 100  # under 10% of one core, waking every 10 ms (cold caches: see README)
    # sampled live at "now - delay": the mouth moved with the words while they were spoken
    live = [m.open for t, m in now_frames if m is not None and started + lag * 1e9 < t < started + (lag + 2.0) * 1e9]
    assert len(live) > 60 and max(live) > 0.8 and min(live) < 0.3
    assert np.percentile(call_ns, 99) < 5e6  # no lock: at most a wait for the GIL (5 ms switch interval)


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_a_tone_at_the_noise_floor_does_not_open_it(room: Pulse) -> None:
    with LipSync(AudioSettings(input="pulse"), CALIBRATION) as lipsync:
        _listening(lipsync)
        _warm_up(room)
        started = _play(room, sine(180, 2.0, CALIBRATION.noise_floor_db))
        hops = lipsync.hops_between(started, time.monotonic_ns())
    levels = np.array([h.level_db for h in hops])
    # the tone was heard (it is 6 dB above the room tone), and left the mouth shut
    assert np.median(levels[levels > CALIBRATION.noise_floor_db - 3]) == pytest.approx(CALIBRATION.noise_floor_db, abs=2)
    assert (levels > CALIBRATION.noise_floor_db - 3).sum() > 150
    assert max(h.open for h in hops) == 0.0


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_vowels_ee_read_wide_and_oo_round(room: Pulse) -> None:
    ee, oo = espeak("[[i:i:i:i:]]", speed=80), espeak("[[u:u:u:u:]]", speed=80)
    with LipSync(AudioSettings(input="pulse"), CALIBRATION) as lipsync:
        _listening(lipsync)
        _warm_up(room)
        shapes = []
        for vowel in (ee, oo):
            started = _play(room, vowel, tail_s=0.3)
            voiced = [h for h in lipsync.hops_between(started, time.monotonic_ns()) if h.open > 0.5]
            assert len(voiced) > 50
            shapes.append((np.median([h.wide for h in voiced]), np.median([h.round for h in voiced])))
    (ee_wide, ee_round), (oo_wide, oo_round) = shapes
    print(f"\nmicrophone vowels: ee wide {ee_wide:.2f} round {ee_round:.2f}; oo wide {oo_wide:.2f} round {oo_round:.2f}")
    assert ee_wide > 0.8 and ee_round < 0.15
    assert oo_round > 0.6 and oo_wide < 0.3


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_an_unplugged_microphone_is_reported_and_recovers_when_it_comes_back(pulse: Pulse, speech: np.ndarray) -> None:
    hello = espeak("Hello streamers, welcome back.")
    room = pulse.room_tone()
    pulse.wait_running()
    settings = AudioSettings(input="pulse", stall_s=0.5)
    try:
        with LipSync(settings, CALIBRATION) as lipsync:
            _listening(lipsync)
            _warm_up(pulse)
            before = _play(pulse, hello)
            assert max(h.open for h in lipsync.hops_between(before, time.monotonic_ns())) > 0.8

            pulse.unplug()  # no error and no status flag from PortAudio: the blocks just stop
            room.kill()  # (PulseAudio moved it to its fallback sink)
            room.wait(10)
            wait_until(lambda: lipsync.status()["stalls"] >= 1, 5, 0.02, "the stall to be noticed")
            wait_until(lambda: lipsync.status()["state"] == "error", 5, 0.02, "reopening to fail")
            gone = lipsync.status()
            assert gone["error"] and "Error opening InputStream" in gone["error"]
            assert lipsync.mouth_at(time.monotonic_ns()) is None  # no audio at all: the face side falls back
            time.sleep(1.5)  # a few failed reopens with backoff

            pulse.plug()
            room = pulse.room_tone()
            pulse.wait_running()
            wait_until(lambda: lipsync.status()["state"] == "listening", 20, 0.05, "the microphone to come back")
            _warm_up(pulse)
            after = _play(pulse, hello)
            back = lipsync.status()
            hops = lipsync.hops_between(after, time.monotonic_ns())
    finally:
        room.kill()
    print(f"\nunplug: {back['stalls']} stalls, {back['reopens']} reopens; state {back['state']}")
    assert back["reopens"] >= 2 and back["failed_opens"] >= 1 and back["error"] is None
    assert max(h.open for h in hops) > 0.8  # the mouth moves again


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_an_idle_monitor_is_silence_not_an_error(pulse: Pulse) -> None:
    """Nothing plays: the monitor delivers no blocks at all. The mouth is shut (not None), the input is
    reopened now and then, and speech opens the mouth as soon as it plays."""
    hello = espeak("Hello streamers, welcome back.")
    with LipSync(AudioSettings(input="pulse", stall_s=0.3), CALIBRATION) as lipsync:
        wait_until(lambda: lipsync.status()["stalls"] >= 2, 10, 0.05, "two stalls of the idle monitor")
        assert lipsync.status()["state"] == "silent"
        assert lipsync.mouth_at(time.monotonic_ns() - lipsync.delay_ns) == Mouth(0.0)
        for _ in range(3):  # the first sound after a reopen can come late (see _warm_up): try a few times
            started = _play(pulse, hello)
            hops = lipsync.hops_between(started, time.monotonic_ns())
            if hops and max(h.open for h in hops) > 0.8:
                break
        assert hops and max(h.open for h in hops) > 0.8


def test_a_device_name_that_matches_nothing_lists_the_inputs(pulse: Pulse) -> None:
    with pytest.raises(RainError) as err:
        LipSync(AudioSettings(input="Blue Yeti"))
    message = str(err.value)
    assert "\n" not in message
    assert "no audio input device for input 'Blue Yeti'; input devices: " in message
    assert "pulse (ALSA" in message and "default (ALSA" in message
    assert LipSync(AudioSettings(input="PULSE")).status()["device"] == "pulse"  # any case, part of the name


@pytest.mark.e2e  # seconds of sound in real time through PulseAudio
def test_a_file_plays_in_real_time_like_a_microphone(tmp_path: Path, speech: np.ndarray) -> None:
    path = write_wav(tmp_path / "speech.flac", speech)
    lipsync = LipSync(AudioSettings(input=str(path)), CALIBRATION)
    assert lipsync.status()["state"] == "off" and lipsync.mouth_at(time.monotonic_ns()) is None
    started = time.monotonic_ns()
    with lipsync:
        seconds = len(speech) / SAMPLE_RATE
        time.sleep(seconds / 2)
        halfway = time.monotonic_ns()
        heard = lipsync.hops_between(0, 2**62)
        assert heard[-1].t_ns <= halfway and heard[-1].t_ns > halfway - 0.1e9  # real time, not at once
        wait_until(lambda: lipsync.status()["state"] == "ended", seconds, 0.05, "the file to end")
        frames, lag = _frames(lipsync, started, speech, exact=True)  # a file has no underruns: one lag
        opened, shut, _, _ = _shares(frames, speech)
        assert lipsync.mouth_at(time.monotonic_ns()) == Mouth(0.0)  # after the end: silence
    assert lag < 0.02  # the file's first sample is "captured" when it starts
    assert opened >= 0.97 and shut == 1.0


def test_a_looping_file_starts_over(tmp_path: Path) -> None:
    clip = np.concatenate([sine(200, 0.4, -10), np.zeros(int(0.6 * SAMPLE_RATE), np.float32)])
    path = write_wav(tmp_path / "clip.wav", clip)
    with LipSync(AudioSettings(input=str(path), loop=True), CALIBRATION) as lipsync:
        started = time.monotonic_ns()
        time.sleep(2.6)
        hops = lipsync.hops_between(started, time.monotonic_ns())
        state = lipsync.status()["state"]
    t = (np.array([h.t_ns for h in hops]) - hops[0].t_ns) / 1e9
    opens = np.array([h.open for h in hops])
    for second in (0, 1, 2):  # open in the first 0.4 s of every second, shut at its end
        assert opens[(t > second + 0.1) & (t < second + 0.35)].min() > 0.9
        if second < 2:
            assert opens[(t > second + 0.8) & (t < second + 0.95)].max() < 0.05
    assert state == "listening"
