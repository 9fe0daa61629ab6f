"""Slot: a one-item mailbox between two threads where the newest item wins (the drop policy of every stage)."""

from __future__ import annotations

import threading


class Slot:
    """One-item mailbox: put() replaces an unread item (counted as dropped); get() waits for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object | None = None
        self.dropped = 0

    def put(self, item: object) -> bool:
        """Store item; True if it replaced one the reader never took."""
        with self._cond:
            replaced = self._item is not None
            self.dropped += replaced
            self._item = item
            self._cond.notify()
            return replaced

    def get(self, timeout: float) -> object | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def clear(self) -> None:
        with self._cond:
            self._item = None
