"""A minimal stand-in for OBS's `obspython` module: just the calls rain_vtuber_obs.py makes.

obs_data is a dict, a source is its name (state.sources holds its kind, settings, flags and sync
offset; state.scenes each scene's items in order), the source kinds OBS has are state.input_kinds,
hotkeys are recorded with their callbacks and bindings, properties are recorded so tests can press
buttons and read the character list. `install()` puts a fresh one in sys.modules.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable

OBS_PATH_FILE = 0
OBS_TEXT_DEFAULT = 0
OBS_TEXT_PASSWORD = 1
OBS_TEXT_INFO = 3
OBS_COMBO_TYPE_LIST = 2
OBS_COMBO_FORMAT_STRING = 3
OBS_FRONTEND_EVENT_EXIT = 17
OBS_SOURCE_AUDIO = 2


class Data(dict):
    """obs_data_t: values, with defaults kept apart as in OBS."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.defaults: dict[str, Any] = {}

    def value(self, key: str, empty: Any) -> Any:
        return self.get(key, self.defaults.get(key, empty))


class Prop:
    def __init__(self, kind: str, name: str, label: str, callback: Callable | None = None) -> None:
        self.kind, self.name, self.label, self.callback = kind, name, label, callback
        self.items: list[tuple[str, str]] = []
        self.modified: Callable | None = None


class Props(dict):
    """obs_properties_t: name -> Prop, in creation order."""


class State:
    """Everything the fake OBS remembers, for assertions."""

    def __init__(self) -> None:
        self.hotkeys: dict[int, dict[str, Any]] = {}  # id -> name, label, callback, bindings
        self.timers: list[tuple[Callable, int]] = []
        self.frontend_callbacks: list[Callable] = []
        self.sources: dict[str, dict[str, Any]] = {}  # name -> {"flags", "sync" (ns), "kind", "settings"}
        self.scenes: dict[str, list[str]] = {"Scene": []}  # scene name -> its items' source names
        self.current_scene = "Scene"
        self.input_kinds: dict[str, str] = {"image_source": "Image", "ffmpeg_source": "Media Source"}  # id -> name
        self.references = 0  # sources handed out minus sources released: 0 when the script is tidy

    def add_source(self, name: str, kind: str = "", settings: dict | None = None, flags: int = 0, sync: int = 0) -> None:
        self.sources[name] = {"kind": kind, "settings": dict(settings or {}), "flags": flags, "sync": sync}

    def hotkey(self, name: str) -> dict[str, Any]:
        return next(h for h in self.hotkeys.values() if h["name"] == name)


def install() -> types.ModuleType:
    """A fresh fake `obspython` in sys.modules; its `state` attribute records what the script did."""
    mod = types.ModuleType("obspython")
    state = State()
    for name, value in globals().items():
        if name.startswith("OBS_"):
            setattr(mod, name, value)

    def data_get(empty: Any) -> Callable[[Data, str], Any]:
        return lambda data, key: data.value(key, empty)

    def data_set(data: Data, key: str, value: Any) -> None:
        data[key] = value

    def set_default(data: Data, key: str, value: Any) -> None:
        data.defaults[key] = value

    mod.obs_data_get_string = data_get("")
    mod.obs_data_get_int = data_get(0)
    mod.obs_data_get_bool = data_get(False)
    mod.obs_data_get_obj = lambda data, key: data.get(key)
    mod.obs_data_get_array = lambda data, key: data.get(key)
    for kind in ("string", "int", "bool", "obj", "array"):
        setattr(mod, f"obs_data_set_{kind}", data_set)
    for kind in ("string", "int", "bool"):
        setattr(mod, f"obs_data_set_default_{kind}", set_default)
    mod.obs_data_create = Data
    mod.obs_data_release = lambda data: None
    mod.obs_data_array_release = lambda array: None

    def register(name: str, label: str, callback: Callable[[bool], None]) -> int:
        hotkey_id = len(state.hotkeys) + 1
        state.hotkeys[hotkey_id] = {"name": name, "label": label, "callback": callback, "bindings": []}
        return hotkey_id

    def load(hotkey_id: int, array: list | None) -> None:
        state.hotkeys[hotkey_id]["bindings"] = list(array or [])

    mod.obs_hotkey_register_frontend = register
    mod.obs_hotkey_load = load
    mod.obs_hotkey_save = lambda hotkey_id: list(state.hotkeys[hotkey_id]["bindings"])
    mod.timer_add = lambda callback, ms: state.timers.append((callback, ms))
    mod.timer_remove = lambda callback: state.timers.remove(next(t for t in state.timers if t[0] == callback))
    mod.obs_frontend_add_event_callback = state.frontend_callbacks.append

    def add(kind: str) -> Callable[..., Prop]:
        def adder(props: Props, name: str, label: str, *rest: Any) -> Prop:
            callback = rest[0] if kind == "button" else None
            props[name] = Prop(kind, name, label, callback)
            return props[name]

        return adder

    mod.obs_properties_create = Props
    for kind in ("path", "text", "int", "bool", "button", "list"):
        setattr(mod, f"obs_properties_add_{kind}", add(kind))
    mod.obs_properties_get = lambda props, name: props[name]
    mod.obs_property_list_clear = lambda prop: prop.items.clear()
    mod.obs_property_list_add_string = lambda prop, label, value: prop.items.append((label, value))
    mod.obs_property_set_modified_callback = lambda prop, callback: setattr(prop, "modified", callback)
    def referenced(name: str | None) -> str | None:
        if name is not None:
            state.references += 1
        return name

    def release(source: str) -> None:
        assert source is not None, "obs_source_release(None)"
        state.references -= 1

    def create(kind: str, name: str, settings: Data, hotkey_data: Any) -> str:
        assert name not in state.sources, f"a source named {name!r} exists: OBS would rename the new one"
        state.add_source(name, kind, settings)
        return referenced(name)

    def scene_add(scene: str, source: str) -> str:
        assert source in state.sources and source not in state.scenes
        state.scenes[scene].append(source)
        return f"{scene}/{source}"

    mod.obs_enum_sources = lambda: list(state.sources)
    mod.source_list_release = lambda sources: None
    mod.obs_source_get_name = lambda name: name
    mod.obs_source_get_output_flags = lambda name: state.sources[name]["flags"]
    mod.obs_get_source_by_name = lambda name: referenced(name if name in state.sources or name in state.scenes else None)
    mod.obs_source_release = release
    mod.obs_source_get_sync_offset = lambda name: state.sources[name]["sync"]
    mod.obs_source_set_sync_offset = lambda name, ns: state.sources[name].update(sync=ns)
    mod.obs_source_get_display_name = lambda kind: state.input_kinds.get(kind)
    mod.obs_source_create = create
    mod.obs_source_update = lambda name, settings: state.sources[name]["settings"].update(settings)
    mod.obs_source_get_unversioned_id = lambda name: state.sources[name]["kind"] if name in state.sources else "scene"
    mod.obs_frontend_get_current_scene = lambda: referenced(state.current_scene)
    mod.obs_scene_from_source = lambda name: name
    mod.obs_scene_find_source = lambda scene, name: f"{scene}/{name}" if name in state.scenes[scene] else None
    mod.obs_scene_add = scene_add
    mod.state = state
    sys.modules["obspython"] = mod
    return mod
