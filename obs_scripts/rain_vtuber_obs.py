"""RAIN VTuber for OBS: runs the rain-vtuber daemon with OBS and switches characters by hotkey.

Load it under Tools > Scripts (keep rain_obs_control.py next to it). It starts the daemon as a
child process, restarts it with backoff if it dies, stops it when the script unloads or OBS
exits, and registers OBS hotkeys for every character, next/previous, pause/resume and recenter.
It can also delay an audio source (the microphone) by the daemon's measured latency, so the voice
stays in sync with the avatar's mouth (rain_obs_audio_sync.py, also kept next to it).
It runs in OBS's own Python with the standard library only and never waits in a callback: the
daemon is driven over its OSC control port from a timer.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional

import obspython as obs  # provided by OBS

from rain_obs_audio_sync import AudioSync
from rain_obs_control import DEFAULT_PORT, Controller, ScriptSettings, is_remote

TICK_MS = 250
HOTKEY_PREFIX = "rain_vtuber."
CHARACTER_PREFIX = HOTKEY_PREFIX + "character."
# hotkey name suffix -> (label in OBS's Hotkeys settings, control address, its arguments)
ACTIONS = {
    "next": ("RAIN: next character", "/rain/character/next"),
    "prev": ("RAIN: previous character", "/rain/character/prev"),
    "pause": ("RAIN: pause", "/rain/pause"),
    "resume": ("RAIN: resume", "/rain/resume"),
    "recenter": ("RAIN: recenter head", "/rain/recenter"),
    "latency.low": ("RAIN: low latency (8-frame pile)", "/rain/latency", "low"),
    "latency.standard": ("RAIN: standard latency (16-frame pile)", "/rain/latency", "standard"),
}


def _log(message: str) -> None:
    print(message)  # OBS prefixes it with the script name in its log


def read_settings(data) -> ScriptSettings:
    """The script's obs_data -> ScriptSettings."""
    return ScriptSettings(
        executable=obs.obs_data_get_string(data, "executable"),
        config=obs.obs_data_get_string(data, "config"),
        extra_args=obs.obs_data_get_string(data, "extra_args"),
        port=obs.obs_data_get_int(data, "port") or DEFAULT_PORT,
        token=obs.obs_data_get_string(data, "token"),
        autostart=obs.obs_data_get_bool(data, "autostart"),
        host=obs.obs_data_get_string(data, "host"),
    )


def _get_sync_offset(name: str) -> Optional[int]:
    source = obs.obs_get_source_by_name(name)
    if source is None:
        return None
    try:
        return int(obs.obs_source_get_sync_offset(source))
    finally:
        obs.obs_source_release(source)


def _set_sync_offset(name: str, offset_ns: int) -> bool:
    source = obs.obs_get_source_by_name(name)
    if source is None:
        return False
    try:
        obs.obs_source_set_sync_offset(source, offset_ns)
    finally:
        obs.obs_source_release(source)
    _log(f"audio sync: '{name}' sync offset now {offset_ns / 1e6:.0f} ms")
    return True


def _saved_originals(settings) -> Dict[str, int]:
    """The offsets the audio sync saved last session (source -> ns); {} if none or unreadable."""
    try:
        saved = json.loads(obs.obs_data_get_string(settings, "sync_originals") or "{}")
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in saved.items()} if isinstance(saved, dict) else {}


def audio_source_names() -> List[str]:
    """Names of the sources that output audio (microphones, media sources, ...), sorted."""
    sources = obs.obs_enum_sources()
    try:
        return sorted(
            obs.obs_source_get_name(s) for s in sources if obs.obs_source_get_output_flags(s) & obs.OBS_SOURCE_AUDIO
        )
    finally:
        obs.source_list_release(sources)


class ObsScript:
    """The loaded script: controller, registered hotkeys and the saved bindings they load."""

    def __init__(self, settings) -> None:
        self.settings = settings  # owned by OBS for the script's lifetime; touched on the UI thread only
        self.controller = Controller(_log, shutil.which, log_dir=Path(tempfile.gettempdir()))
        self.controller.configure(read_settings(settings))
        self.hotkeys: Dict[str, int] = {}
        self._lock = threading.Lock()  # the timer adds hotkeys on OBS's graphics thread, save() reads on the UI thread
        self._saved = obs.obs_data_get_obj(settings, "hotkeys")  # name -> binding array
        self.known: List[str] = json.loads(obs.obs_data_get_string(settings, "known_characters") or "[]")
        for suffix, (label, address, *args) in ACTIONS.items():
            self._register(HOTKEY_PREFIX + suffix, label, self._sender(address, *args))
        for name in self.known:
            self._register_character(name)
        self.sync = AudioSync(_get_sync_offset, _set_sync_offset, _saved_originals(settings))
        self._synced_status: object = None
        self.configure_sync(settings)

    def configure_sync(self, settings) -> None:
        self.sync.configure(
            obs.obs_data_get_string(settings, "sync_audio_source"), obs.obs_data_get_int(settings, "sync_margin_ms")
        )

    def _sender(self, address: str, *args: str) -> Callable[[bool], None]:
        def on_hotkey(pressed: bool) -> None:
            if pressed:
                self.controller.send(address, *args)

        return on_hotkey

    def _register(self, name: str, label: str, callback: Callable[[bool], None]) -> None:
        hotkey_id = obs.obs_hotkey_register_frontend(name, label, callback)
        if self._saved is not None:
            bindings = obs.obs_data_get_array(self._saved, name)
            obs.obs_hotkey_load(hotkey_id, bindings)
            obs.obs_data_array_release(bindings)
        self.hotkeys[name] = hotkey_id

    def _register_character(self, name: str) -> None:
        key = CHARACTER_PREFIX + name
        with self._lock:
            if key not in self.hotkeys:
                self._register(key, f"RAIN: character {name}", self._sender("/rain/character", name))
            if name not in self.known:
                self.known.append(name)

    def tick(self) -> None:
        """Timer body: drive the daemon and add hotkeys for characters it reports."""
        self.controller.tick()
        for name in self.controller.characters():
            if CHARACTER_PREFIX + name not in self.hotkeys:
                self._register_character(name)
        status = self.controller.status  # None while the daemon is unreachable: the offset stays
        if status is not None and status is not self._synced_status:  # each status counts once
            self._synced_status = status
            self.sync.update(status.latency_ms)

    def save(self, settings) -> None:
        """Write every hotkey's bindings and the characters seen, so they load next time."""
        saved = obs.obs_data_create()
        with self._lock:
            for name, hotkey_id in self.hotkeys.items():
                bindings = obs.obs_hotkey_save(hotkey_id)
                obs.obs_data_set_array(saved, name, bindings)
                obs.obs_data_array_release(bindings)
            known = json.dumps(self.known)
        obs.obs_data_set_obj(settings, "hotkeys", saved)
        obs.obs_data_release(saved)
        obs.obs_data_set_string(settings, "known_characters", known)
        obs.obs_data_set_string(settings, "sync_originals", json.dumps(dict(self.sync.originals)))

    def refresh_view(self, props) -> None:
        """Before OBS draws the properties: current status, character list and selection."""
        obs.obs_data_set_string(self.settings, "status", self.controller.status_line())
        status = self.controller.status
        active = status.character if status is not None else ""
        obs.obs_data_set_string(self.settings, "character", active)
        combo = obs.obs_properties_get(props, "character")
        obs.obs_property_list_clear(combo)
        obs.obs_property_list_add_string(combo, "", "")
        with self._lock:
            known = tuple(self.known)
        for name in self.controller.characters() or known:
            obs.obs_property_list_add_string(combo, name, name)

    def unload(self) -> None:
        self.sync.stop()
        self.controller.shutdown()
        obs.obs_data_release(self._saved)


_script: "ObsScript | None" = None


# --- OBS entry points ----------------------------------------------------------------------


def script_description() -> str:
    return (
        "<b>RAIN VTuber</b><br>Starts <code>rain-vtuber daemon</code> with OBS, restarts it if it "
        "crashes, stops it when OBS closes, and adds hotkeys (Settings &gt; Hotkeys, 'RAIN: ...') "
        "to switch characters, pause, resume and recenter. Show the stream with an NDI source "
        "(DistroAV plugin) named after the daemon's NDI name.<br>Daemon on another PC: set its "
        "address as <i>Daemon PC</i> and the same token it runs with; OBS then only controls it.<br>"
        "Pick your microphone under 'Delay audio' to keep your voice in sync with the avatar (it "
        "follows the daemon's measured latency)."
    )


def script_defaults(settings) -> None:
    obs.obs_data_set_default_int(settings, "port", DEFAULT_PORT)
    obs.obs_data_set_default_bool(settings, "autostart", True)
    obs.obs_data_set_default_int(settings, "sync_margin_ms", 0)


def script_properties():
    props = obs.obs_properties_create()
    obs.obs_properties_add_path(
        props, "executable", "Python or rain-vtuber executable", obs.OBS_PATH_FILE, "", None
    )
    obs.obs_properties_add_path(
        props, "config", "Daemon config (YAML)", obs.OBS_PATH_FILE, "YAML (*.yaml *.yml)", None
    )
    obs.obs_properties_add_text(props, "extra_args", "Extra daemon arguments", obs.OBS_TEXT_DEFAULT)
    obs.obs_properties_add_text(props, "host", "Daemon PC (empty: this PC, run by OBS)", obs.OBS_TEXT_DEFAULT)
    obs.obs_properties_add_int(props, "port", "Control port", 1024, 65535, 1)
    obs.obs_properties_add_text(props, "token", "Control token (optional)", obs.OBS_TEXT_PASSWORD)
    obs.obs_properties_add_bool(props, "autostart", "Start the daemon with OBS")
    obs.obs_properties_add_button(props, "start", "Start daemon", _on_button(lambda c: c.start()))
    obs.obs_properties_add_button(props, "stop", "Stop daemon", _on_button(lambda c: c.stop()))
    obs.obs_properties_add_button(props, "restart", "Restart daemon", _on_button(lambda c: c.restart()))
    obs.obs_properties_add_text(props, "status", "Status", obs.OBS_TEXT_INFO)
    obs.obs_properties_add_button(props, "refresh", "Refresh status", _on_button(lambda c: None))
    combo = obs.obs_properties_add_list(
        props, "character", "Character", obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING
    )
    obs.obs_property_set_modified_callback(combo, _on_character_chosen)
    sync = obs.obs_properties_add_list(
        props, "sync_audio_source", "Delay audio to match the avatar",
        obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING,
    )
    obs.obs_property_list_add_string(sync, "(off)", "")
    chosen = _script.sync.source if _script is not None else ""
    for name in sorted(set(audio_source_names()) | ({chosen} - {""})):
        obs.obs_property_list_add_string(sync, name, name)
    obs.obs_properties_add_int(props, "sync_margin_ms", "Extra audio delay (ms)", -500, 2000, 10)
    if _script is not None:
        _script.refresh_view(props)
    return props


def _on_button(action: Callable[[Controller], None]):
    """A button callback: run the action, refresh status and list, redraw the properties."""

    def clicked(props, prop) -> bool:
        if _script is None:
            return False
        action(_script.controller)
        _script.refresh_view(props)
        return True

    return clicked


def _on_character_chosen(props, prop, settings) -> bool:
    """Switch when the user picks another character (refresh_view preselects the active one)."""
    if _script is None:
        return False
    name = obs.obs_data_get_string(settings, "character")
    status = _script.controller.status
    if name and (status is None or name != status.character):
        _script.controller.send("/rain/character", name)
    return False


def script_update(settings) -> None:
    if _script is not None:
        _script.controller.configure(read_settings(settings))
        _script.configure_sync(settings)


def script_load(settings) -> None:
    global _script
    _script = ObsScript(settings)
    obs.timer_add(_tick, TICK_MS)
    obs.obs_frontend_add_event_callback(_on_frontend_event)
    if _script.controller.settings.autostart or is_remote(_script.controller.settings):
        _script.controller.start()


def _tick() -> None:
    if _script is not None:
        _script.tick()


def _on_frontend_event(event) -> None:
    if event == obs.OBS_FRONTEND_EVENT_EXIT and _script is not None:
        _script.sync.stop()  # the source gets its own offset back (saved originals cover a save before this)
        _script.controller.shutdown()


def script_save(settings) -> None:
    if _script is not None:
        _script.save(settings)


def script_unload() -> None:
    global _script
    obs.timer_remove(_tick)
    if _script is not None:
        _script.unload()
        _script = None
