"""Audio sync in real OBS Studio 29 (headless): the "microphone" follows the daemon's latency.

A media source playing a generated WAV file stands in for the microphone (its own sync offset 37 ms).
The script runs the stand-in daemon (tests/obs/fake_daemon.py), which reports a face-to-NDI latency
p50 and halves it on `/rain/latency low`. Through obs-websocket the test reads the source's audio
sync offset: it matches the reported latency, follows the switch, and returns to 37 ms when the
setting is cleared and when the script unloads (a probe script calls the unload entry point, as
removing the script in Tools > Scripts does).
"""

from __future__ import annotations

import json
import math
import signal
import struct
import wave
from pathlib import Path
from typing import Any, Optional

from obs_runner import REAL_OBS, HeadlessObs, daemon_status
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "obs_scripts" / "rain_vtuber_obs.py"
ORIGINAL_MS = 37
STANDARD_MS = 533.0  # what the stand-in daemon reports until told /rain/latency low (then half)
TOLERANCE_MS = 20.0

pytestmark = REAL_OBS

PROBE = """
import obspython as obs
import rain_vtuber_obs as rain  # the module OBS loaded just before this one


def clear_sync(pressed):
    if pressed:
        obs.obs_data_set_string(rain._script.settings, "sync_audio_source", "")
        rain.script_update(rain._script.settings)


def set_sync(pressed):
    if pressed:
        obs.obs_data_set_string(rain._script.settings, "sync_audio_source", "Mic")
        rain.script_update(rain._script.settings)


def unload_rain(pressed):
    if pressed:
        rain.script_unload()
        print("PROBE unloaded the RAIN script")


def script_load(settings):
    for name, callback in (("clear_sync", clear_sync), ("set_sync", set_sync), ("unload_rain", unload_rain)):
        obs.obs_hotkey_register_frontend("probe." + name, "Probe: " + name, callback)
"""


def _write_wav(path: Path, seconds: float = 2.0, rate: int = 48000) -> Path:
    """A 440 Hz tone, 16-bit mono: the stand-in microphone."""
    samples = (int(12000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def _microphone(wav: Path) -> dict[str, Any]:
    """A looping media source as OBS saves it, with its own 37 ms sync offset."""
    return {
        "id": "ffmpeg_source", "versioned_id": "ffmpeg_source", "name": "Mic", "uuid": "rain-test-mic",
        "settings": {"is_local_file": True, "local_file": str(wav), "looping": True},
        "sync": ORIGINAL_MS * 1_000_000,
    }


def _reported_latency(port: int) -> Optional[float]:
    return (daemon_status(port) or {}).get("latency_ms_p50")


def test_microphone_offset_follows_the_daemon_latency(
    tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int
) -> None:
    from rain_vtuber.daemon.control import send_command

    probe = tmp_path / "probe_rain_sync.py"
    probe.write_text(PROBE)
    settings = {
        "executable": str(fake_daemon_exe), "port": port, "extra_args": f"--latency-ms {STANDARD_MS}",
        "sync_audio_source": "Mic", "sync_margin_ms": 0,
    }
    mic = _microphone(_write_wav(tmp_path / "mic.wav"))
    obs = headless_obs.start([(SCRIPT, settings), (probe, {})], inputs=[mic])
    headless_obs.wait("the stand-in daemon", lambda: _reported_latency(port), 30.0)
    client = headless_obs.websocket()
    try:
        def offset() -> float:
            return float(client.get_input_audio_sync_offset("Mic").input_audio_sync_offset)

        def in_sync() -> bool:
            reported = _reported_latency(port)
            return reported is not None and abs(offset() - reported) <= TOLERANCE_MS

        assert "Mic" in [i["inputName"] for i in client.get_input_list().inputs]
        wait_until(in_sync, 15.0, what=lambda: f"the Mic offset ({offset()} ms) to match the daemon's latency "
                                              f"({_reported_latency(port)} ms)")
        assert abs(offset() - STANDARD_MS) <= TOLERANCE_MS

        assert send_command("/rain/latency", "low", port=port) == ("ok", "latency low")
        wait_until(lambda: abs(offset() - STANDARD_MS / 2) <= TOLERANCE_MS and in_sync(), 20.0,
                   what=lambda: f"the low-latency offset (Mic offset {offset()} ms)")

        client.trigger_hotkey_by_name("probe.clear_sync")
        wait_until(lambda: offset() == ORIGINAL_MS, 5.0, what=lambda: f"the original offset (Mic offset {offset()} ms)")
        client.trigger_hotkey_by_name("probe.set_sync")
        wait_until(in_sync, 15.0, what=lambda: f"the offset to follow the daemon (Mic offset {offset()} ms)")
        client.trigger_hotkey_by_name("probe.unload_rain")
        wait_until(lambda: offset() == ORIGINAL_MS, 10.0, what=lambda: f"the original offset (Mic offset {offset()} ms)")
    finally:
        client.disconnect()  # a connected client makes OBS wait 5 s for the close handshake on exit
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    said = headless_obs.said()
    assert "PROBE unloaded the RAIN script" in said and "daemon stopped (code 0, graceful)" in said, said[-3000:]
    assert "Traceback" not in said, said[-3000:]


def test_obs_exit_saves_the_microphone_with_its_own_offset(
    tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int
) -> None:
    """Quitting OBS while the offset is applied must not make it the source's offset next time."""

    settings = {"executable": str(fake_daemon_exe), "port": port, "sync_audio_source": "Mic"}
    obs = headless_obs.start([(SCRIPT, settings)], inputs=[_microphone(_write_wav(tmp_path / "mic.wav"))])
    headless_obs.wait("the stand-in daemon", lambda: _reported_latency(port), 30.0)
    client = headless_obs.websocket()
    try:
        applied = lambda: client.get_input_audio_sync_offset("Mic").input_audio_sync_offset == 80  # noqa: E731
        wait_until(applied, 15.0)
    finally:
        client.disconnect()
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    collection = json.loads((headless_obs.xdg / "obs-studio" / "basic" / "scenes" / "RainTest.json").read_text())
    mic = next(s for s in collection["sources"] if s["name"] == "Mic")
    saved = collection["modules"]["scripts-tool"][0]["settings"]
    original = ORIGINAL_MS * 1_000_000
    if mic.get("sync") != original:  # OBS 29 saves before its exit event: the script's saved originals carry it
        assert json.loads(saved["sync_originals"]) == {"Mic": original}, (mic.get("sync"), saved)
