"""rain_obs_hotkeys: stable names, what each hotkey sends on press and release, the catalog."""

from __future__ import annotations

from rain_obs_hotkeys import (
    BUILTIN_EXPRESSIONS, FIXED_HOTKEYS, Hotkey, HotkeyCatalog, character_hotkeys, expression_hotkeys
)


def test_expression_hotkeys_toggle_on_press_and_hold_while_down() -> None:
    toggle, hold = expression_hotkeys("smile")
    assert (toggle.name, toggle.label) == ("rain_vtuber.expression.smile", "RAIN: expression smile")
    assert (toggle.address, toggle.args(True), toggle.args(False)) == ("/rain/expression", ("smile", "toggle"), None)
    assert (hold.name, hold.label) == ("rain_vtuber.expression.smile.hold", "RAIN: hold expression smile")
    assert (hold.args(True), hold.args(False)) == (("smile", "on"), ("smile", "off"))
    clear = next(h for h in FIXED_HOTKEYS if h.name == "rain_vtuber.expression.clear")
    assert (clear.label, clear.address, clear.args(True), clear.args(False)) == (
        "RAIN: clear expressions", "/rain/expression/clear", (), None
    )
    (alice,) = character_hotkeys("alice")
    assert (alice.name, alice.address, alice.args(True)) == ("rain_vtuber.character.alice", "/rain/character", ("alice",))


def test_fixed_hotkey_names_are_unique_and_stable() -> None:
    names = [h.name for h in FIXED_HOTKEYS]
    assert names == [
        "rain_vtuber.next", "rain_vtuber.prev", "rain_vtuber.pause", "rain_vtuber.resume", "rain_vtuber.recenter",
        "rain_vtuber.latency.low", "rain_vtuber.latency.standard", "rain_vtuber.expression.clear",
    ]
    assert BUILTIN_EXPRESSIONS == ("wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry")


class Registry:
    """OBS's side: every registration, with the id it handed out."""

    def __init__(self) -> None:
        self.registered: list[Hotkey] = []

    def register(self, hotkey: Hotkey) -> int:
        self.registered.append(hotkey)
        return len(self.registered)


def test_catalog_registers_each_name_once_and_remembers_what_it_saw() -> None:
    registry, logged = Registry(), []
    catalog = HotkeyCatalog(registry.register, logged.append)
    catalog.add(FIXED_HOTKEYS)
    catalog.add(FIXED_HOTKEYS)
    catalog.add_expressions(["smile", "blush"])
    catalog.add_expressions(["blush", "smile"])
    catalog.add_characters(["alice"])
    names = [h.name for h in registry.registered]
    assert names == [h.name for h in FIXED_HOTKEYS] + [
        "rain_vtuber.expression.smile", "rain_vtuber.expression.smile.hold",
        "rain_vtuber.expression.blush", "rain_vtuber.expression.blush.hold", "rain_vtuber.character.alice",
    ]
    ids, characters, expressions = catalog.snapshot()
    assert ids == {name: i + 1 for i, name in enumerate(names)}
    assert (characters, expressions) == (["alice"], ["smile", "blush"])
    assert logged == []


def test_an_expression_whose_hotkey_name_is_taken_gets_none_and_is_logged_once() -> None:
    registry, logged = Registry(), []
    catalog = HotkeyCatalog(registry.register, logged.append)
    catalog.add(FIXED_HOTKEYS)
    catalog.add_expressions(["smile"])
    before = len(registry.registered)
    catalog.add_expressions(["clear", "smile.hold"])  # would be rain_vtuber.expression.clear / ...smile.hold
    catalog.add_expressions(["clear"])
    assert len(registry.registered) == before
    assert logged == [
        "'clear' gets no hotkeys: the hotkey name rain_vtuber.expression.clear is already taken",
        "'smile.hold' gets no hotkeys: the hotkey name rain_vtuber.expression.smile.hold is already taken",
    ]
