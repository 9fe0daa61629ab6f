"""rain_vtuber_obs.py's OBS glue under a fake `obspython`, driving a real fake-daemon process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

import fake_obspython
from polling import until
from fake_obspython import Data
from rain_obs_control import ProcState

SCRIPT = Path(__file__).resolve().parents[2] / "obs_scripts" / "rain_vtuber_obs.py"
FIXED_HOTKEYS = [f"rain_vtuber.{a}" for a in ("next", "prev", "pause", "resume", "recenter", "latency.low", "latency.standard")]


@pytest.fixture
def obs() -> ModuleType:
    return fake_obspython.install()


@pytest.fixture
def script(obs: ModuleType):
    """A freshly imported script module; unloaded (daemon stopped) after the test."""
    spec = importlib.util.spec_from_file_location("rain_vtuber_obs_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    if module._script is not None:
        module.script_unload()


def _load(script: ModuleType, settings: Data) -> None:
    script.script_defaults(settings)
    script.script_load(settings)
    script.script_update(settings)


def _tick_until(obs: ModuleType, predicate, timeout: float = 10.0) -> bool:
    (tick, _ms), = obs.state.timers
    return until(predicate, timeout, tick)


def test_hotkeys_are_stable_and_their_bindings_round_trip(obs, script) -> None:
    binding = [{"key": "OBS_KEY_1", "control": True}]
    settings = Data(
        autostart=False,
        known_characters=json.dumps(["alice"]),
        hotkeys=Data({"rain_vtuber.character.alice": binding, "rain_vtuber.next": [{"key": "OBS_KEY_N"}]}),
    )
    _load(script, settings)
    names = [h["name"] for h in obs.state.hotkeys.values()]
    assert names == FIXED_HOTKEYS + ["rain_vtuber.character.alice"]
    assert obs.state.hotkey("rain_vtuber.character.alice")["bindings"] == binding
    assert obs.state.hotkey("rain_vtuber.character.alice")["label"] == "RAIN: character alice"
    assert obs.state.hotkey("rain_vtuber.prev")["bindings"] == []
    assert obs.state.timers[0][1] == script.TICK_MS
    assert script._script.controller.supervisor.state == ProcState.STOPPED  # autostart off

    obs.state.hotkey("rain_vtuber.prev")["bindings"] = [{"key": "OBS_KEY_P"}]  # user binds a key
    saved = Data()
    script.script_save(saved)
    assert saved["hotkeys"]["rain_vtuber.character.alice"] == binding
    assert saved["hotkeys"]["rain_vtuber.prev"] == [{"key": "OBS_KEY_P"}]
    assert json.loads(saved["known_characters"]) == ["alice"]
    script.script_unload()
    assert obs.state.timers == []

    obs.state.hotkeys.clear()  # next OBS session: the hotkeys are gone, the saved settings load
    script.script_load(saved)
    assert obs.state.hotkey("rain_vtuber.prev")["bindings"] == [{"key": "OBS_KEY_P"}]
    assert obs.state.hotkey("rain_vtuber.character.alice")["bindings"] == binding


def test_latency_hotkeys_switch_the_daemon(obs, script, port, fake_daemon_exe) -> None:
    _load(script, Data(executable=str(fake_daemon_exe), port=port))
    controller = script._script.controller
    assert _tick_until(obs, lambda: controller.status is not None and controller.status.latency_ms == 80.0)
    obs.state.hotkey("rain_vtuber.latency.low")["callback"](True)
    assert _tick_until(obs, lambda: controller.status.latency_ms == 40.0, 3.0)
    obs.state.hotkey("rain_vtuber.latency.standard")["callback"](True)
    assert _tick_until(obs, lambda: controller.status.latency_ms == 80.0, 3.0)
    assert controller.last_error == ""


def test_script_runs_the_daemon_and_switches_characters(obs, script, port, fake_daemon_exe) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port)
    _load(script, settings)
    controller = script._script.controller
    daemon = controller.supervisor.proc
    assert controller.supervisor.state == ProcState.RUNNING  # "start with OBS" is on by default
    assert _tick_until(obs, lambda: "rain_vtuber.character.bob" in [h["name"] for h in obs.state.hotkeys.values()])

    obs.state.hotkey("rain_vtuber.character.bob")["callback"](False)  # key release: nothing sent
    before = controller.status
    controller.send("/rain/status")  # answered after anything the release sent (same socket pair)
    assert _tick_until(obs, lambda: controller.status is not before, 3.0)
    assert controller.status.character == "alice"
    obs.state.hotkey("rain_vtuber.character.bob")["callback"](True)
    assert _tick_until(obs, lambda: controller.status.character == "bob", 3.0)

    props = script.script_properties()
    assert props["character"].items == [("", ""), ("alice", "alice"), ("bob", "bob")]
    assert settings["character"] == "bob"  # the active one is preselected, so opening switches nothing
    assert settings["status"].startswith("running | streaming | bob | 12.5 fps")
    settings["character"] = "alice"
    assert props["character"].modified(props, props["character"], settings) is False
    assert _tick_until(obs, lambda: controller.status.character == "alice", 3.0)

    assert props["stop"].callback(props, props["stop"]) is True
    assert _tick_until(obs, lambda: controller.supervisor.state == ProcState.STOPPED, 5.0)
    assert daemon.returncode == 0
    assert props["start"].callback(props, props["start"]) is True
    assert controller.supervisor.proc is not daemon and controller.supervisor.state == ProcState.RUNNING


def test_unload_and_obs_exit_stop_the_daemon(obs, script, port, fake_daemon_exe) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port)
    _load(script, settings)
    controller = script._script.controller
    assert _tick_until(obs, lambda: controller.status is not None)
    daemon = controller.supervisor.proc
    (on_event,) = obs.state.frontend_callbacks
    began = time.monotonic()
    on_event(obs.OBS_FRONTEND_EVENT_EXIT)
    assert daemon.returncode == 0 and time.monotonic() - began < 2.0
    script.script_unload()  # after the exit event: nothing left to stop, returns at once
    assert script._script is None and obs.state.timers == []


def test_audio_source_follows_the_daemon_latency_and_gets_its_offset_back(obs, script, port, fake_daemon_exe) -> None:
    obs.state.sources.update(Mic={"flags": obs.OBS_SOURCE_AUDIO, "sync": 7_000_000}, Camera={"flags": 1, "sync": 0})
    settings = Data(executable=str(fake_daemon_exe), port=port, sync_audio_source="Mic", sync_margin_ms=20)
    _load(script, settings)
    props = script.script_properties()
    assert props["sync_audio_source"].items == [("(off)", ""), ("Mic", "Mic")]  # audio sources only
    assert _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 100_000_000)  # 80 ms p50 + 20 ms
    saved = Data()
    script.script_save(saved)
    assert json.loads(saved["sync_originals"]) == {"Mic": 7_000_000}
    settings["sync_audio_source"] = ""
    script.script_update(settings)
    assert obs.state.sources["Mic"]["sync"] == 7_000_000
    settings["sync_audio_source"] = "Mic"
    script.script_update(settings)
    assert _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 100_000_000)
    script.script_unload()
    assert obs.state.sources["Mic"]["sync"] == 7_000_000

def test_daemon_pc_setting_controls_a_daemon_the_script_never_runs(obs, script, port, fake_daemon_exe) -> None:
    daemon = subprocess.Popen(
        [str(fake_daemon_exe), "daemon", "--control-port", str(port), "--host", "127.0.0.2", "--token", "lan"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert "listening" in daemon.stdout.readline()
        settings = Data(executable=str(fake_daemon_exe), port=port, host="127.0.0.2", token="lan", autostart=False)
        script.script_load(settings)  # no script_defaults: "start with OBS" stays off, the remote is still shown
        controller = script._script.controller
        assert _tick_until(obs, lambda: controller.status is not None, 5.0)
        props = script.script_properties()
        assert settings["status"].startswith(f"remote 127.0.0.2:{port} | streaming | alice")
        assert props["stop"].callback(props, props["stop"]) is True
        script.script_unload()
        assert controller.supervisor.proc is None and daemon.poll() is None
    finally:
        daemon.kill()
        daemon.wait(timeout=5)


def test_audio_sync_follows_a_daemon_on_another_pc(obs, script, port, fake_daemon_exe) -> None:
    """The offset comes from the status the script polls, wherever the daemon runs."""
    obs.state.sources.update(Mic={"flags": obs.OBS_SOURCE_AUDIO, "sync": 0})
    daemon = subprocess.Popen(
        [str(fake_daemon_exe), "daemon", "--control-port", str(port), "--host", "127.0.0.2", "--latency-ms", "450"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert "listening" in daemon.stdout.readline()
        settings = Data(port=port, host="127.0.0.2", autostart=False, sync_audio_source="Mic")
        script.script_load(settings)
        assert _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 450_000_000, 5.0)
        script.script_unload()
        assert obs.state.sources["Mic"]["sync"] == 0 and daemon.poll() is None
    finally:
        daemon.kill()
        daemon.wait(timeout=5)
