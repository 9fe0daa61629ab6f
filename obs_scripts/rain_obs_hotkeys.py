"""The OBS script's hotkeys: stable names, labels, what each sends, and the ones registered so far.

Stable names (`rain_vtuber.*`) are what OBS saves bindings under and what obs-websocket's
`TriggerHotkeyByName` and Stream Deck use, so they never change. Character and expression hotkeys
come from the daemon's status; the names seen are remembered in the script's settings so their
hotkeys (and bindings) exist while the daemon is off. Standard library only and free of
`obspython`: the OBS script hands in the function that registers one hotkey with OBS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

PREFIX = "rain_vtuber."
CHARACTER_PREFIX = PREFIX + "character."
EXPRESSION_PREFIX = PREFIX + "expression."
HOLD_SUFFIX = ".hold"
# every daemon knows these; a character may add its own (its status lists them)
BUILTIN_EXPRESSIONS = ("wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry")


@dataclass(frozen=True)
class Hotkey:
    """One OBS hotkey: its stable name, its label in Settings > Hotkeys, and the command it sends."""

    name: str
    label: str
    address: str
    on_press: Tuple[str, ...] = ()
    on_release: Optional[Tuple[str, ...]] = None  # None: releasing the key sends nothing

    def args(self, pressed: bool) -> Optional[Tuple[str, ...]]:
        """The command's arguments for a press (True) or a release (False); None: send nothing."""
        return self.on_press if pressed else self.on_release


FIXED_HOTKEYS = (
    Hotkey(PREFIX + "next", "RAIN: next character", "/rain/character/next"),
    Hotkey(PREFIX + "prev", "RAIN: previous character", "/rain/character/prev"),
    Hotkey(PREFIX + "pause", "RAIN: pause", "/rain/pause"),
    Hotkey(PREFIX + "resume", "RAIN: resume", "/rain/resume"),
    Hotkey(PREFIX + "recenter", "RAIN: recenter head", "/rain/recenter"),
    Hotkey(PREFIX + "latency.low", "RAIN: low latency (8-frame pile)", "/rain/latency", ("low",)),
    Hotkey(PREFIX + "latency.standard", "RAIN: standard latency (16-frame pile)", "/rain/latency", ("standard",)),
    Hotkey(EXPRESSION_PREFIX + "clear", "RAIN: clear expressions", "/rain/expression/clear"),
)


def character_hotkeys(name: str) -> Tuple[Hotkey, ...]:
    """Switch to the character `name`."""
    return (Hotkey(CHARACTER_PREFIX + name, f"RAIN: character {name}", "/rain/character", (name,)),)


def expression_hotkeys(name: str) -> Tuple[Hotkey, ...]:
    """Toggle the expression `name` on each press, and hold it on while the key is down."""
    key = EXPRESSION_PREFIX + name
    return (
        Hotkey(key, f"RAIN: expression {name}", "/rain/expression", (name, "toggle")),
        Hotkey(key + HOLD_SUFFIX, f"RAIN: hold expression {name}", "/rain/expression", (name, "on"), (name, "off")),
    )


class HotkeyCatalog:
    """Every hotkey registered so far, by stable name, and the characters and expressions seen.

    The timer adds hotkeys on OBS's graphics thread while saving reads them on the UI thread, so
    both hold one lock. `register` registers one hotkey with OBS (loading its saved bindings) and
    returns OBS's id for it. OBS cannot drop a frontend hotkey cleanly, so names are only ever added.
    """

    def __init__(self, register: Callable[[Hotkey], int], log: Callable[[str], None]) -> None:
        self._register = register
        self._log = log
        self._lock = threading.Lock()
        self.ids: Dict[str, int] = {}
        self.characters: List[str] = []
        self.expressions: List[str] = []

    def add(self, hotkeys: Iterable[Hotkey]) -> None:
        """Register these hotkeys (FIXED_HOTKEYS); names already registered are skipped."""
        with self._lock:
            for hotkey in hotkeys:
                if hotkey.name not in self.ids:
                    self.ids[hotkey.name] = self._register(hotkey)

    def add_characters(self, names: Iterable[str]) -> None:
        self._add_named(names, self.characters, character_hotkeys)

    def add_expressions(self, names: Iterable[str]) -> None:
        self._add_named(names, self.expressions, expression_hotkeys)

    def _add_named(self, names: Iterable[str], seen: List[str], make: Callable[[str], Tuple[Hotkey, ...]]) -> None:
        new = [name for name in names if name not in seen]  # the timer's common case: nothing new, no lock
        if not new:
            return
        with self._lock:
            for name in new:
                if name in seen:
                    continue
                seen.append(name)  # remembered even without hotkeys, so the clash is logged once
                hotkeys = make(name)
                taken = next((h.name for h in hotkeys if h.name in self.ids), None)
                if taken is not None:
                    self._log(f"'{name}' gets no hotkeys: the hotkey name {taken} is already taken")
                    continue
                for hotkey in hotkeys:
                    self.ids[hotkey.name] = self._register(hotkey)

    def snapshot(self) -> Tuple[Dict[str, int], List[str], List[str]]:
        """(stable name -> hotkey id, characters, expressions), consistent with each other: for saving."""
        with self._lock:
            return dict(self.ids), list(self.characters), list(self.expressions)
