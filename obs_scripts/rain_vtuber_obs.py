"""RAIN VTuber for OBS: runs the rain-vtuber daemon with OBS, hotkeys for characters and expressions.

Load it under Tools > Scripts, with the rest of the obs_scripts folder next to it (the rain_obs_*.py
files it imports from its own folder). It starts the daemon as a child process, restarts it with
backoff if it dies, stops it when the script unloads or OBS exits, and registers OBS hotkeys for
every character and expression, next/previous, pause/resume, recenter and latency. A button adds the
avatar to the current scene (Browser Source or DistroAV's NDI source). It can also delay an audio
source (the microphone) by the daemon's measured latency, so the voice stays in sync with the mouth.
It runs in OBS's own Python with the standard library only and never waits in a callback: the
daemon is driven over its OSC control port from a timer. This is the only file that uses obspython.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import obspython as obs  # provided by OBS

from rain_obs_audio_sync import AudioSync
from rain_obs_avatar import AVATAR_SOURCE_NAME, SOURCE_KINDS, AvatarSource, AvatarUnavailable, avatar_source
from rain_obs_control import Controller
from rain_obs_hotkeys import BUILTIN_EXPRESSIONS, FIXED_HOTKEYS, Hotkey, HotkeyCatalog
from rain_obs_settings import DEFAULT_PORT, ScriptSettings, daemon_host, is_remote

TICK_MS = 250


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


def _saved_names(settings, key: str) -> List[str]:
    """A list of names the script saved last session (characters, expressions); [] if none or unreadable."""
    try:
        saved = json.loads(obs.obs_data_get_string(settings, key) or "[]")
    except ValueError:
        return []
    return [str(name) for name in saved] if isinstance(saved, list) else []


def audio_source_names() -> List[str]:
    """Names of the sources that output audio (microphones, media sources, ...), sorted."""
    sources = obs.obs_enum_sources()
    try:
        return sorted(
            obs.obs_source_get_name(s) for s in sources if obs.obs_source_get_output_flags(s) & obs.OBS_SOURCE_AUDIO
        )
    finally:
        obs.source_list_release(sources)


def available_source_kinds() -> List[str]:
    """The avatar source kinds this OBS has registered (a kind without a display name is not there)."""
    return [kind for kind in SOURCE_KINDS if obs.obs_source_get_display_name(kind)]


def _obs_data(values: Dict[str, object]):
    """A new obs_data holding `values` (the caller releases it)."""
    data = obs.obs_data_create()
    for key, value in values.items():
        if isinstance(value, bool):
            obs.obs_data_set_bool(data, key, value)
        elif isinstance(value, int):
            obs.obs_data_set_int(data, key, value)
        else:
            obs.obs_data_set_string(data, key, str(value))
    return data


def _avatar_input(wanted: AvatarSource):
    """The source named AVATAR_SOURCE_NAME with `wanted`'s settings: created, or the existing one updated.

    Returns a reference the caller releases; an existing source of another kind is left alone.
    """
    settings = _obs_data(wanted.settings)
    try:
        source = obs.obs_get_source_by_name(AVATAR_SOURCE_NAME)
        if source is None:
            return obs.obs_source_create(wanted.kind, AVATAR_SOURCE_NAME, settings, None)
        kind = obs.obs_source_get_unversioned_id(source)
        if kind != wanted.kind:
            obs.obs_source_release(source)
            raise AvatarUnavailable(
                f"Cannot add the avatar: the existing source '{AVATAR_SOURCE_NAME}' is of kind {kind}, not "
                f"{wanted.kind}: rename or remove it, then press the button again"
            )
        obs.obs_source_update(source, settings)
        return source
    finally:
        obs.obs_data_release(settings)


def place_in_current_scene(wanted: AvatarSource) -> str:
    """Create or update the avatar source and put it in the current scene (once); returns the scene's name."""
    scene_source = obs.obs_frontend_get_current_scene()
    if scene_source is None:
        raise AvatarUnavailable("Cannot add the avatar: OBS has no current scene: add a scene, then press the button again")
    try:
        source = _avatar_input(wanted)
        try:
            scene = obs.obs_scene_from_source(scene_source)
            if obs.obs_scene_find_source(scene, AVATAR_SOURCE_NAME) is None:
                obs.obs_scene_add(scene, source)
        finally:
            obs.obs_source_release(source)
        return obs.obs_source_get_name(scene_source)
    finally:
        obs.obs_source_release(scene_source)


class ObsScript:
    """The loaded script: controller, registered hotkeys and the saved bindings they load."""

    def __init__(self, settings) -> None:
        self.settings = settings  # owned by OBS for the script's lifetime; touched on the UI thread only
        self.controller = Controller(_log, shutil.which, log_dir=Path(tempfile.gettempdir()))
        self.controller.configure(read_settings(settings))
        self._saved = obs.obs_data_get_obj(settings, "hotkeys")  # name -> binding array
        self.hotkeys = HotkeyCatalog(self._register, _log)
        self.hotkeys.add(FIXED_HOTKEYS)
        self.hotkeys.add_characters(_saved_names(settings, "known_characters"))
        self.hotkeys.add_expressions(BUILTIN_EXPRESSIONS + tuple(_saved_names(settings, "known_expressions")))
        self.sync = AudioSync(_get_sync_offset, _set_sync_offset, _saved_originals(settings))
        self._synced_status: object = None
        self.configure_sync(settings)
        self.notice = ""  # what the last button did, shown after the status until another button is pressed

    def configure_sync(self, settings) -> None:
        self.sync.configure(
            obs.obs_data_get_string(settings, "sync_audio_source"), obs.obs_data_get_int(settings, "sync_margin_ms")
        )

    def _register(self, hotkey: Hotkey) -> int:
        """Register one hotkey with OBS and load the bindings saved for it."""
        hotkey_id = obs.obs_hotkey_register_frontend(hotkey.name, hotkey.label, self._callback(hotkey))
        if self._saved is not None:
            bindings = obs.obs_data_get_array(self._saved, hotkey.name)
            obs.obs_hotkey_load(hotkey_id, bindings)
            obs.obs_data_array_release(bindings)
        return hotkey_id

    def _callback(self, hotkey: Hotkey) -> Callable[[bool], None]:
        def on_hotkey(pressed: bool) -> None:
            args = hotkey.args(pressed)
            if args is not None:
                self.controller.send(hotkey.address, *args)  # waits at most SEND_WAIT_S, never on the network

        return on_hotkey

    def tick(self) -> None:
        """Timer body: drive the daemon, add hotkeys for what it reports, follow its latency."""
        self.controller.tick()
        status = self.controller.status  # None while the daemon is unreachable: the offset stays
        if status is None or status is self._synced_status:  # each status counts once
            return
        self._synced_status = status
        self.hotkeys.add_characters(status.characters)
        self.hotkeys.add_expressions(status.expressions)
        self.sync.update(status.latency_ms)

    def save(self, settings) -> None:
        """Write every hotkey's bindings and the characters and expressions seen, so they load next time."""
        ids, characters, expressions = self.hotkeys.snapshot()
        saved = obs.obs_data_create()
        for name, hotkey_id in ids.items():
            bindings = obs.obs_hotkey_save(hotkey_id)
            obs.obs_data_set_array(saved, name, bindings)
            obs.obs_data_array_release(bindings)
        obs.obs_data_set_obj(settings, "hotkeys", saved)
        obs.obs_data_release(saved)
        obs.obs_data_set_string(settings, "known_characters", json.dumps(characters))
        obs.obs_data_set_string(settings, "known_expressions", json.dumps(expressions))
        obs.obs_data_set_string(settings, "sync_originals", json.dumps(dict(self.sync.originals)))

    def add_avatar(self) -> None:
        """The "Add avatar to current scene" button: a source showing the daemon's output, or why not."""
        try:
            wanted = avatar_source(
                available_source_kinds(), self.controller.status, daemon_host(self.controller.settings)
            )
            scene = place_in_current_scene(wanted)
        except AvatarUnavailable as err:
            self.notice = str(err)
        else:
            self.notice = f"'{AVATAR_SOURCE_NAME}' ({wanted.kind_label}) in scene '{scene}' shows {wanted.shows}"
        _log(self.notice)

    def refresh_view(self, props) -> None:
        """Before OBS draws the properties: current status, character list and selection."""
        line = self.controller.status_line()
        obs.obs_data_set_string(self.settings, "status", f"{line} | {self.notice}" if self.notice else line)
        status = self.controller.status
        active = status.character if status is not None else ""
        obs.obs_data_set_string(self.settings, "character", active)
        combo = obs.obs_properties_get(props, "character")
        obs.obs_property_list_clear(combo)
        obs.obs_property_list_add_string(combo, "", "")
        for name in self.controller.characters() or self.hotkeys.snapshot()[1]:
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
        "to switch characters and expressions, pause, resume and recenter. <i>Add avatar to current "
        "scene</i> adds a Browser Source (the daemon's browser output) or an NDI source (DistroAV "
        "plugin) showing the avatar.<br>Daemon on another PC: set its address as <i>Daemon PC</i> and "
        "the same token it runs with; OBS then only controls it.<br>"
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
    obs.obs_properties_add_button(props, "start", "Start daemon", _on_button(lambda s: s.controller.start()))
    obs.obs_properties_add_button(props, "stop", "Stop daemon", _on_button(lambda s: s.controller.stop()))
    obs.obs_properties_add_button(props, "restart", "Restart daemon", _on_button(lambda s: s.controller.restart()))
    obs.obs_properties_add_text(props, "status", "Status", obs.OBS_TEXT_INFO)
    obs.obs_properties_add_button(props, "refresh", "Refresh status", _on_button(lambda s: None))
    obs.obs_properties_add_button(
        props, "add_avatar", "Add avatar to current scene", _on_button(lambda s: s.add_avatar())
    )
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


def _on_button(action: Callable[[ObsScript], None]):
    """A button callback: run the action, refresh status and list, redraw the properties."""

    def clicked(props, prop) -> bool:
        if _script is None:
            return False
        _script.notice = ""
        action(_script)
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
