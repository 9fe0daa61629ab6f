"""Character registry: what characters exist, their calibrations, and their fused reference states.

Fusing (the reference UNet + image encoder over the character image) runs in a background thread, the
active character first, so a switch later is a pointer swap. A switch to a character that is not fused
yet, or a calibration file that no longer parses, is an error that leaves the current state as it was.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rain_vtuber.errors import RainError
from rain_vtuber.face import Expression, expression_set
from rain_vtuber.landmarks import Calibration, load_calibration
from rain_vtuber.landmarks.calibration import reload_calibration
from rain_vtuber.landmarks.characters import Character, load_character_meta, load_picture
from rain_vtuber.landmarks.library import CharacterLibrary
from rain_vtuber.landmarks.picture import background_colour
from rain_vtuber.paths import character_folders

log = logging.getLogger(__name__)


class FuseState(str, enum.Enum):
    PENDING = "pending"
    FUSING = "fusing"
    READY = "ready"
    ERROR = "error"


class Fuser(Protocol):
    def fuse_reference(self, image: np.ndarray) -> Any: ...


@dataclass
class CharacterEntry:
    """One character: image, calibration, and how far its reference fusion got."""

    name: str
    image_path: Path
    calibration_path: Path
    calibration: Calibration
    image: np.ndarray
    background: tuple[int, int, int]  # key colour for background_key "reference"
    expressions: dict[str, Expression]  # the built-in ones and the character's own (character.yaml)
    found: Character = field(repr=False)  # where it is on disk (to read character.yaml again on reload)
    state: FuseState = FuseState.PENDING
    error: str | None = None
    states: Any = field(default=None, repr=False)  # engine ReferenceStates once READY

    def status(self) -> dict[str, Any]:
        return {"state": self.state.value, "error": self.error}


def _load_entry(found: Character) -> CharacterEntry:
    """Read a discovered character's image, calibration and background colour."""
    image, meta = load_picture(found)
    background = meta.fill if meta.background is not None else background_colour(image)
    return CharacterEntry(
        name=found.name,
        image_path=found.image_path,
        calibration_path=found.calibration_path,
        calibration=load_calibration(found.calibration_path),
        image=image,
        background=background,
        expressions=expression_set(meta.expressions),
        found=found,
    )


class CharacterRegistry:
    """Discovers characters at start; `select` is instant for fused ones and refuses the rest."""

    def __init__(self, characters_dir: Path | None, calibration_dir: Path | None, active: str) -> None:
        """None for a folder: the lookup order of `rain_vtuber.paths.character_folders`."""
        self.library = CharacterLibrary(character_folders(characters_dir, calibration_dir))
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._entries: dict[str, CharacterEntry] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._others = threading.Event()  # set: fuse the non-active characters too
        self._add_new()
        if active not in self._entries:
            raise RainError(
                f"character '{active}' not found in {self.library.describe()} "
                f"(known: {', '.join(self.names()) or 'none'}); create it with "
                f"`rain-vtuber calibrate {active} --image PICTURE` or pick one with --character"
            )
        self.active = active

    def _add_new(self) -> list[str]:
        """Add characters not seen before; a character whose files are broken is logged and skipped."""
        added = []
        for found in self.library.discover():
            if found.name in self._entries:
                continue
            try:
                entry = _load_entry(found)
            except RainError as err:
                log.error("skipping character %s: %s", found.name, err)
                continue
            with self._lock:
                self._entries[found.name] = entry
            added.append(found.name)
        return added

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._entries)

    def get(self, name: str) -> CharacterEntry:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise RainError(f"no character '{name}'; known: {', '.join(sorted(self._entries))}")
            return entry

    @property
    def current(self) -> CharacterEntry:
        return self.get(self.active)

    def select(self, name: str) -> CharacterEntry:
        """Make `name` active if it is fused; otherwise raise and keep the current one."""
        entry = self.get(name)
        if entry.state is not FuseState.READY:
            detail = f": {entry.error}" if entry.error else ""
            raise RainError(f"character '{name}' is not ready ({entry.state.value}{detail}); still '{self.active}'")
        self.active = name
        return entry

    def neighbour(self, step: int) -> str:
        """The character `step` places after the active one in name order (wraps around)."""
        names = self.names()
        return names[(names.index(self.active) + step) % len(names)]

    def start_fusing(self, engine: Fuser, others: bool = True) -> None:
        """Fuse pending characters in a background thread (the active one first) until close().

        others=False fuses only the active character until fuse_others() is called, so the engine
        can be timed without a fusion competing for the GPU.
        """
        if others:
            self._others.set()
        self._thread = threading.Thread(target=self._fuse_all, args=(engine,), name="rain-fuse", daemon=True)
        self._thread.start()

    def fuse_others(self) -> None:
        """Let the background thread go on to the non-active characters."""
        self._others.set()
        with self._ready:
            self._ready.notify_all()

    def wait_ready(self, name: str, stop: threading.Event, timeout: float | None = None) -> CharacterEntry:
        """Block until `name` is fused (or failed, or stop); raise unless READY."""
        entry = self.get(name)
        with self._ready:
            self._ready.wait_for(
                lambda: entry.state in (FuseState.READY, FuseState.ERROR) or stop.is_set(), timeout
            )
        if entry.state is not FuseState.READY:
            raise RainError(f"character '{name}' could not be prepared: {entry.error or entry.state.value}")
        return entry

    def _pending(self) -> CharacterEntry | None:
        with self._lock:
            pending = [
                e for e in self._entries.values()
                if e.state is FuseState.PENDING and (e.name == self.active or self._others.is_set())
            ]
        pending.sort(key=lambda e: (e.name != self.active, e.name))
        return pending[0] if pending else None

    def _fuse_all(self, engine: Fuser) -> None:
        while not self._stop.is_set():
            entry = self._pending()
            if entry is None:  # idle until fuse_others() or reload() adds work
                with self._ready:
                    self._ready.wait(timeout=1.0)
                continue
            entry.state = FuseState.FUSING
            try:
                states = engine.fuse_reference(entry.image)
            except Exception as err:  # a bad image must not take the other characters down
                log.exception("fusing character %s failed", entry.name)
                with self._ready:
                    entry.state, entry.error = FuseState.ERROR, f"fusing failed: {err}"
                    self._ready.notify_all()
                continue
            with self._ready:
                entry.states, entry.state, entry.error = states, FuseState.READY, None
                self._ready.notify_all()
            log.info("character %s ready", entry.name)

    def reload(self) -> list[str]:
        """Re-read every calibration and character.yaml (a bad file keeps the previous values) and pick up new characters.

        Returns the error messages, empty when everything loaded.
        """
        errors = []
        for name in self.names():
            entry = self.get(name)
            entry.calibration, error = reload_calibration(entry.calibration_path, entry.calibration)
            if error:
                errors.append(error)
            try:
                entry.expressions = expression_set(load_character_meta(entry.found).expressions)
            except RainError as err:  # a broken character.yaml keeps the expressions it had
                errors.append(str(err))
        added = self._add_new()
        if added:
            log.info("new characters: %s", ", ".join(added))
            with self._ready:
                self._ready.notify_all()
        return errors

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {name: e.status() for name, e in sorted(self._entries.items())}

    def close(self) -> None:
        """Stop after the character being fused now (fusing cannot be interrupted mid-way)."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=0.2)
            if self._thread.is_alive():
                log.warning("fusing thread still busy at shutdown; it stops when its current character is done")
