"""rain_vtuber_obs.py's OBS glue under a fake `obspython`, driving a real fake-daemon process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, TypeVar

import pytest

import fake_obspython
from fake_obspython import Data
from rain_obs_supervisor import ProcState
from tests.waiting import wait_until

T = TypeVar("T")
SCRIPT = Path(__file__).resolve().parents[2] / "obs_scripts" / "rain_vtuber_obs.py"
FIXED_HOTKEYS = [
    f"rain_vtuber.{a}"
    for a in ("next", "prev", "pause", "resume", "recenter", "latency.low", "latency.standard", "expression.clear")
]
BUILTIN_EXPRESSION_HOTKEYS = [
    f"rain_vtuber.expression.{name}{hold}"
    for name in ("wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry")
    for hold in ("", ".hold")
]


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


def _tick_until(obs: ModuleType, predicate: Callable[[], T], timeout: float = 10.0) -> T:
    """wait_until, running the script's one OBS timer between looks."""
    (tick, _ms), = obs.state.timers
    return wait_until(predicate, timeout, tick=tick)


def test_hotkeys_are_stable_and_their_bindings_round_trip(obs, script) -> None:
    binding = [{"key": "OBS_KEY_1", "control": True}]
    settings = Data(
        autostart=False,
        known_characters=json.dumps(["alice"]),
        hotkeys=Data({"rain_vtuber.character.alice": binding, "rain_vtuber.next": [{"key": "OBS_KEY_N"}]}),
    )
    _load(script, settings)
    names = [h["name"] for h in obs.state.hotkeys.values()]
    assert names == FIXED_HOTKEYS + ["rain_vtuber.character.alice"] + BUILTIN_EXPRESSION_HOTKEYS
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
    _tick_until(obs, lambda: controller.status is not None and controller.status.latency_ms == 80.0)
    obs.state.hotkey("rain_vtuber.latency.low")["callback"](True)
    _tick_until(obs, lambda: controller.status.latency_ms == 40.0, 3.0)
    obs.state.hotkey("rain_vtuber.latency.standard")["callback"](True)
    _tick_until(obs, lambda: controller.status.latency_ms == 80.0, 3.0)
    assert controller.last_error == ""


def test_script_runs_the_daemon_and_switches_characters(obs, script, port, fake_daemon_exe) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port)
    _load(script, settings)
    controller = script._script.controller
    daemon = controller.supervisor.proc
    assert controller.supervisor.state == ProcState.RUNNING  # "start with OBS" is on by default
    _tick_until(obs, lambda: "rain_vtuber.character.bob" in [h["name"] for h in obs.state.hotkeys.values()])

    obs.state.hotkey("rain_vtuber.character.bob")["callback"](False)  # key release: nothing sent
    before = controller.status
    controller.send("/rain/status")  # answered after anything the release sent (same socket pair)
    _tick_until(obs, lambda: controller.status is not before, 3.0)
    assert controller.status.character == "alice"
    obs.state.hotkey("rain_vtuber.character.bob")["callback"](True)
    _tick_until(obs, lambda: controller.status.character == "bob", 3.0)

    props = script.script_properties()
    assert props["character"].items == [("", ""), ("alice", "alice"), ("bob", "bob")]
    assert settings["character"] == "bob"  # the active one is preselected, so opening switches nothing
    assert settings["status"].startswith("running | streaming | bob | 12.5 fps")
    settings["character"] = "alice"
    assert props["character"].modified(props, props["character"], settings) is False
    _tick_until(obs, lambda: controller.status.character == "alice", 3.0)

    assert props["stop"].callback(props, props["stop"]) is True
    _tick_until(obs, lambda: controller.supervisor.state == ProcState.STOPPED, 5.0)
    assert daemon.returncode == 0
    assert props["start"].callback(props, props["start"]) is True
    assert controller.supervisor.proc is not daemon and controller.supervisor.state == ProcState.RUNNING


def test_unload_and_obs_exit_stop_the_daemon(obs, script, port, fake_daemon_exe) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port)
    _load(script, settings)
    controller = script._script.controller
    _tick_until(obs, lambda: controller.status is not None)
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
    _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 100_000_000)  # 80 ms p50 + 20 ms
    saved = Data()
    script.script_save(saved)
    assert json.loads(saved["sync_originals"]) == {"Mic": 7_000_000}
    settings["sync_audio_source"] = ""
    script.script_update(settings)
    assert obs.state.sources["Mic"]["sync"] == 7_000_000
    settings["sync_audio_source"] = "Mic"
    script.script_update(settings)
    _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 100_000_000)
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
        _tick_until(obs, lambda: controller.status is not None, 5.0)
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
        _tick_until(obs, lambda: obs.state.sources["Mic"]["sync"] == 450_000_000, 5.0)
        script.script_unload()
        assert obs.state.sources["Mic"]["sync"] == 0 and daemon.poll() is None
    finally:
        daemon.kill()
        daemon.wait(timeout=5)


# --- expression hotkeys ---------------------------------------------------------------------------


def test_expression_hotkeys_exist_from_the_first_load_and_extras_are_remembered(obs, script, port, fake_daemon_exe) -> None:
    script.script_load(Data(autostart=False))  # a first load: nothing saved, no daemon
    names = [h["name"] for h in obs.state.hotkeys.values()]
    assert names == FIXED_HOTKEYS + BUILTIN_EXPRESSION_HOTKEYS
    assert obs.state.hotkey("rain_vtuber.expression.clear")["label"] == "RAIN: clear expressions"
    assert obs.state.hotkey("rain_vtuber.expression.smile.hold")["label"] == "RAIN: hold expression smile"
    script.script_unload()

    obs.state.hotkeys.clear()
    _load(script, Data(executable=str(fake_daemon_exe), port=port, extra_args="--expressions blush"))
    _tick_until(obs, lambda: "rain_vtuber.expression.blush.hold" in [h["name"] for h in obs.state.hotkeys.values()])
    assert obs.state.hotkey("rain_vtuber.expression.blush")["label"] == "RAIN: expression blush"
    obs.state.hotkey("rain_vtuber.expression.blush")["bindings"] = [{"key": "OBS_KEY_B"}]
    saved = Data()
    script.script_save(saved)
    assert json.loads(saved["known_expressions"]) == [
        "wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry", "blush"
    ]
    script.script_unload()

    obs.state.hotkeys.clear()  # next session, daemon off: the extra's hotkeys and binding are back
    saved["autostart"] = False
    script.script_load(saved)
    assert obs.state.hotkey("rain_vtuber.expression.blush")["bindings"] == [{"key": "OBS_KEY_B"}]
    assert "rain_vtuber.expression.blush.hold" in [h["name"] for h in obs.state.hotkeys.values()]


def test_expression_hotkeys_send_toggle_hold_and_clear(obs, script, port, fake_daemon_exe, tmp_path) -> None:
    sent = tmp_path / "commands.jsonl"
    settings = Data(executable=str(fake_daemon_exe), port=port, extra_args=f"--expressions blush --command-log {sent}")
    _load(script, settings)
    controller = script._script.controller

    def active() -> tuple:
        return controller.status.active_expressions if controller.status is not None else None

    def press(name: str, pressed: bool = True) -> None:
        obs.state.hotkey(name)["callback"](pressed)

    _tick_until(obs, lambda: active() == ())
    press("rain_vtuber.expression.smile")
    press("rain_vtuber.expression.smile", False)  # releasing a toggle sends nothing
    _tick_until(obs, lambda: active() == ("smile",), 3.0)
    press("rain_vtuber.expression.blush.hold")
    _tick_until(obs, lambda: active() == ("blush", "smile"), 3.0)
    script.script_properties()  # redraws the status line
    assert settings["status"].startswith(
        "running | streaming | alice | 12.5 fps | 80 ms | driver tracking | expressions blush, smile"
    )
    press("rain_vtuber.expression.blush.hold", False)
    _tick_until(obs, lambda: active() == ("smile",), 3.0)
    press("rain_vtuber.expression.clear")
    _tick_until(obs, lambda: active() == (), 3.0)
    assert [json.loads(line) for line in sent.read_text().splitlines()] == [
        ["/rain/expression", "smile", "toggle"],
        ["/rain/expression", "blush", "on"],
        ["/rain/expression", "blush", "off"],
        ["/rain/expression/clear"],
    ]
    assert controller.last_error == ""


def test_an_expression_the_character_lacks_shows_the_daemons_answer(obs, script, port, fake_daemon_exe) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port, known_expressions=json.dumps(["sparkle"]))
    _load(script, settings)
    controller = script._script.controller
    _tick_until(obs, lambda: controller.status is not None)
    obs.state.hotkey("rain_vtuber.expression.sparkle")["callback"](True)  # remembered from another character
    _tick_until(obs, lambda: controller.last_error, 3.0)
    assert controller.last_error.startswith("/rain/expression: unknown expression 'sparkle'; known: wink_left, ")


# --- "Add avatar to current scene" ----------------------------------------------------------------


def _press(script: ModuleType, button: str) -> Data:
    props = script.script_properties()
    assert props[button].callback(props, props[button]) is True
    return script._script.settings


def test_add_avatar_makes_a_browser_source_on_the_daemons_page(obs, script, port, fake_daemon_exe, capsys) -> None:
    obs.state.input_kinds.update(browser_source="Browser", ndi_source="NDI™ Source")
    settings = Data(executable=str(fake_daemon_exe), port=port, extra_args="--outputs ndi,browser")
    _load(script, settings)
    _tick_until(obs, lambda: script._script.controller.status is not None)
    assert "Add avatar to current scene" == script.script_properties()["add_avatar"].label
    _press(script, "add_avatar")
    browser = {
        "is_local_file": False, "url": "http://127.0.0.1:9070/", "width": 512, "height": 512,
        "shutdown": False, "restart_when_active": False,
    }
    assert obs.state.sources["RAIN VTuber"]["kind"] == "browser_source"
    assert obs.state.sources["RAIN VTuber"]["settings"] == browser
    assert obs.state.scenes["Scene"] == ["RAIN VTuber"]
    done = "'RAIN VTuber' (Browser Source) in scene 'Scene' shows the daemon's browser output http://127.0.0.1:9070/"
    assert settings["status"].endswith(f" | {done}") and done in capsys.readouterr().out
    assert _press(script, "refresh")["status"].endswith("http://127.0.0.1:9070/")  # another button: the notice goes

    obs.state.sources["RAIN VTuber"]["settings"].update(url="http://example.invalid/", shutdown=True)  # user edits
    obs.state.scenes["Live"] = []
    obs.state.current_scene = "Live"
    _press(script, "add_avatar")  # reused: same source, settings put back, added to the new current scene once
    _press(script, "add_avatar")
    assert obs.state.sources["RAIN VTuber"]["settings"] == browser
    assert obs.state.scenes == {"Scene": ["RAIN VTuber"], "Live": ["RAIN VTuber"]}
    assert obs.state.references == 0  # every source reference the script took was released


def test_add_avatar_makes_an_ndi_source_in_normal_latency_without_browser_source(obs, script, port, fake_daemon_exe) -> None:
    obs.state.input_kinds.update(ndi_source="NDI™ Source")
    _load(script, Data(executable=str(fake_daemon_exe), port=port, extra_args="--outputs ndi,browser"))
    _tick_until(obs, lambda: script._script.controller.status is not None)
    _press(script, "add_avatar")
    assert obs.state.sources["RAIN VTuber"]["kind"] == "ndi_source"
    assert obs.state.sources["RAIN VTuber"]["settings"] == {
        "ndi_source_name": f"FAKEHOST (RAIN fake {port})", "latency": 0, "ndi_bw_mode": 0
    }
    assert obs.state.scenes["Scene"] == ["RAIN VTuber"] and obs.state.references == 0


def test_add_avatar_says_what_is_missing_and_creates_nothing(obs, script, port, fake_daemon_exe, capsys) -> None:
    settings = Data(executable=str(fake_daemon_exe), port=port, extra_args="--outputs ndi")
    _load(script, settings)
    _tick_until(obs, lambda: script._script.controller.status is not None)
    missing = (
        "Cannot add the avatar: OBS has no Browser Source here (Linux builds without CEF), the daemon has no browser "
        "output and DistroAV is not installed: install DistroAV, or run OBS with Browser Source and add a `browser` "
        "output to the daemon"
    )
    assert _press(script, "add_avatar")["status"].endswith(f" | {missing}")
    assert missing in capsys.readouterr().out
    assert obs.state.sources == {} and obs.state.scenes == {"Scene": []}


@pytest.mark.parametrize("host, shown", [("", "stopped"), ("127.0.0.2", "remote 127.0.0.2:{port} | connecting")])
def test_add_avatar_without_a_reachable_daemon_says_so(obs, script, port, host, shown) -> None:
    script.script_load(Data(port=port, host=host, autostart=False))  # nobody answers on `port`
    obs.state.input_kinds.update(browser_source="Browser", ndi_source="NDI™ Source")
    status = _press(script, "add_avatar")["status"]
    assert status.startswith(shown.format(port=port) + " | Cannot add the avatar: the daemon is not reachable")
    assert obs.state.sources == {}


def test_add_avatar_leaves_another_kind_of_source_with_that_name_alone(obs, script, port, fake_daemon_exe) -> None:
    obs.state.input_kinds.update(browser_source="Browser")
    obs.state.add_source("RAIN VTuber", kind="image_source", settings={"file": "me.png"})
    _load(script, Data(executable=str(fake_daemon_exe), port=port, extra_args="--outputs browser"))
    _tick_until(obs, lambda: script._script.controller.status is not None)
    status = _press(script, "add_avatar")["status"]
    assert status.endswith(
        " | Cannot add the avatar: the existing source 'RAIN VTuber' is of kind image_source, not browser_source: "
        "rename or remove it, then press the button again"
    )
    assert obs.state.sources["RAIN VTuber"]["settings"] == {"file": "me.png"} and obs.state.scenes["Scene"] == []
    assert obs.state.references == 0
