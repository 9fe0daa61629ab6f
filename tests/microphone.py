"""Real sound for tests: speech from espeak-ng, and a microphone with no sound card.

The microphone is the monitor of a PulseAudio null sink (see ../shared/spec/audio-headless.md):
a server started per test module with its own XDG_RUNTIME_DIR, read through ALSA's pulse plugin by
PortAudio; whatever paplay plays into the sink is what the microphone hears. A continuous low
"room tone" can play alongside, as a real microphone hears its room (and, unlike an idle monitor,
delivers blocks all the time).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile
from numpy.lib.stride_tricks import sliding_window_view

from tests.conftest import require
from tests.waiting import wait_until

SINK = "mic_sink"
SAMPLE_RATE = 16000
HOP_S, WINDOW_S = 0.010, 0.025  # the analysis' hops, recomputed here independently of the package
ROOM_TONE_DB = -66.0
"""Level of the room tone (pink-ish noise) under everything the microphone hears."""
PHRASES = (
    "Hello streamers, welcome back to the channel.",
    "Today we are drawing a cat.",
    "Thanks for watching, see you tomorrow.",
)
PAUSES_S = (0.9, 1.2)
PLAY_LATENCY_MS = 250
"""paplay's buffer: at 20 ms a busy 2-core machine underruns it now and then, which inserts a gap
into what the microphone hears and shifts the rest of the speech against the WAV."""


def espeak_missing() -> str | None:
    return None if shutil.which("espeak-ng") else "espeak-ng is not installed (apt-get install -y espeak-ng)"


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """espeak-ng's speech for text (phonemes in [[...]]), mono float32 at SAMPLE_RATE."""
    require(espeak_missing())
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                         capture_output=True, check=True).stdout
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    from scipy.signal import resample_poly

    return resample_poly(samples, SAMPLE_RATE, rate).astype(np.float32)


def speech_with_pauses() -> np.ndarray:
    """Three phrases with 0.9 s and 1.2 s of silence between them, half a second of silence around."""
    parts = [np.zeros(SAMPLE_RATE // 2, np.float32)]
    for i, phrase in enumerate(PHRASES):
        parts.append(espeak(phrase))
        parts.append(np.zeros(int(SAMPLE_RATE * (PAUSES_S[i] if i < len(PAUSES_S) else 0.5)), np.float32))
    return np.concatenate(parts)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    soundfile.write(str(path), samples, SAMPLE_RATE, subtype="FLOAT" if path.suffix == ".wav" else "PCM_24")
    return path


def envelope_db(samples: np.ndarray) -> np.ndarray:
    """RMS dBFS of the 25 ms window centred on 0, 10 ms, 20 ms, ... (numpy only)."""
    hop, window = round(HOP_S * SAMPLE_RATE), round(WINDOW_S * SAMPLE_RATE)
    padded = np.concatenate([np.zeros(window // 2), samples, np.zeros(window // 2)])
    frames = sliding_window_view(padded, window)[::hop]
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def speech_and_pauses(samples: np.ndarray, voice_db: float, guard_s: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Masks over the hops: in words (the envelope above voice_db), and in the pauses (below it, and
    guard_s away from any word: the jaw takes its release time to close)."""
    speaking = envelope_db(samples) > voice_db
    guard = round(guard_s / HOP_S)
    near = np.convolve(speaking, np.ones(2 * guard + 1), mode="same") > 0
    return speaking, ~near


def syllables(count: int = 10, on_s: float = 0.25, off_s: float = 0.35) -> np.ndarray:
    """A voice stand-in with exact timing: `count` voiced bursts (a 180 Hz buzz at -20 dBFS) of on_s,
    each followed by off_s of silence; burst k spans [k * (on_s + off_s), k * (on_s + off_s) + on_s)."""
    t = np.arange(int(SAMPLE_RATE * (on_s + off_s))) / SAMPLE_RATE
    burst = np.where(t < on_s, 0.1 * np.sign(np.sin(2 * np.pi * 180 * t)), 0.0)
    return np.tile(burst, count).astype(np.float32)


def sine(freq: float, seconds: float, rms_db: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (10 ** (rms_db / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@dataclass
class Pulse:
    """A running user-space PulseAudio server with a null sink whose monitor is the microphone."""

    runtime: Path
    wav_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {"XDG_RUNTIME_DIR": str(self.runtime), "PULSE_SERVER": f"unix:{self.runtime}/pulse/native",
                "PULSE_SOURCE": f"{SINK}.monitor", "PULSE_SINK": SINK}

    def run(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run(args, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=timeout)

    def play(self, samples: np.ndarray, name: str = "clip") -> subprocess.Popen:
        """Start playing into the sink (what the microphone hears) and return at once."""
        path = write_wav(self.wav_dir / f"{name}-{time.monotonic_ns()}.wav", samples)
        return subprocess.Popen(["paplay", f"--latency-msec={PLAY_LATENCY_MS}", f"--device={SINK}", str(path)],
                                env={**os.environ, **self.env})

    def room_tone(self, seconds: float = 120.0, level_db: float = ROOM_TONE_DB) -> subprocess.Popen:
        """A quiet white noise under everything, like a real room; kill() it to leave the monitor idle."""
        noise = np.random.default_rng(7).standard_normal(SAMPLE_RATE * 10) * 10 ** (level_db / 20)
        path = write_wav(self.wav_dir / "room.wav", np.tile(noise.astype(np.float32), int(np.ceil(seconds / 10))))
        return subprocess.Popen(["paplay", "--latency-msec=20", f"--device={SINK}", str(path)],
                                env={**os.environ, **self.env})

    def wait_running(self, settle_s: float = 1.5) -> None:
        """Wait until the sink plays, then settle_s more: a null sink that just left IDLE hands its
        monitor the first second or so of sound more than a second late (seen with PulseAudio 16)."""
        def running() -> bool:
            rows = [line.split() for line in self.run("pactl", "list", "short", "sinks").stdout.splitlines()]
            return any(row[1] == SINK and row[-1] == "RUNNING" for row in rows if len(row) > 2)

        wait_until(running, 10, poll_s=0.05, what="the sink to start playing")
        time.sleep(settle_s)

    def null_sink_module(self) -> str | None:
        for line in self.run("pactl", "list", "short", "modules").stdout.splitlines():
            if "module-null-sink" in line and f"sink_name={SINK}" in line:
                return line.split()[0]
        return None

    def unplug(self) -> None:
        """The microphone vanishes (as a USB headset pulled out: no error, just no more sound)."""
        module = self.null_sink_module()
        assert module is not None, "the null sink is not loaded"
        assert self.run("pactl", "unload-module", module).returncode == 0

    def plug(self) -> None:
        assert self.run("pactl", "load-module", "module-null-sink", f"sink_name={SINK}").returncode == 0


def portaudio_missing() -> str | None:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return "PortAudio is not installed (apt-get install -y libportaudio2 libasound2-plugins)"
    return None


def _pulse_missing() -> str | None:
    missing = [p for p in ("pulseaudio", "pactl", "paplay") if shutil.which(p) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install -y pulseaudio pulseaudio-utils; scripts/install-test-system-deps.sh)"
    return portaudio_missing()


@pytest.fixture(scope="module")
def pulse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    require(_pulse_missing())
    runtime = Path(tempfile.mkdtemp(prefix="pulse-"))  # short: the socket path must fit in 108 bytes
    pulse = Pulse(runtime, tmp_path_factory.mktemp("wav"))
    env = {**os.environ, **pulse.env, "HOME": str(runtime)}
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix",
         f"--load=module-null-sink sink_name={SINK}", "--load=module-always-sink"],
        env=env, capture_output=True, text=True, timeout=30,
    )
    deadline = time.monotonic() + 5
    while started.returncode == 0 and pulse.run("pactl", "info").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    if started.returncode != 0 or pulse.run("pactl", "info").returncode != 0:
        require(f"PulseAudio did not start (rc {started.returncode}): {started.stderr.strip()[-300:]}")
    try:
        yield pulse
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def pulse(pulse_server: Pulse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pulse]:
    """The server, with this process pointed at it (PortAudio restarted so it sees the pulse device)."""
    for key, value in pulse_server.env.items():
        monkeypatch.setenv(key, value)
    from rain_vtuber.audio import devices

    assert devices.refresh()
    if pulse_server.null_sink_module() is None:  # a test that unplugged it and failed
        pulse_server.plug()
    yield pulse_server
