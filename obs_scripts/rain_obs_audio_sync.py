"""Keep the microphone in sync with the avatar: delay one OBS audio source by the daemon's latency.

The avatar reaches OBS some hundreds of milliseconds after the face moved (the daemon reports that
face-to-NDI latency, p50, in /rain/status), while the voice arrives at once. `AudioSync` sets the
chosen audio source's sync offset to that latency plus a margin. It smooths the reports, changes the
offset only when the target moves by more than SYNC_DEADBAND_MS (OBS briefly glitches the audio on
every change), never acts on a daemon it cannot hear from, and puts the source's own offset back when
the setting is cleared or the script unloads.

Standard library only and free of `obspython`: the OBS script hands in two small functions that read
and write a source's offset, so unit tests drive it with a dict.
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Optional

SYNC_DEADBAND_MS = 20.0
SYNC_SMOOTHING = 0.5  # weight of each new status in the smoothed latency (one status per second)
NS_PER_MS = 1_000_000

GetOffset = Callable[[str], Optional[int]]  # source name -> its sync offset in ns, None if no such source
SetOffset = Callable[[str, int], bool]  # (source name, ns) -> False if no such source


class AudioSync:
    """The sync offset of one audio source, following the daemon's latency.

    `originals` maps a source name to the offset it had before this script touched it; the OBS script
    saves it with its settings, so an offset applied when OBS saved and exited is not mistaken for the
    source's own next time. OBS calls in from its UI thread (settings) and its graphics thread (timer),
    so every public method holds one lock.
    """

    def __init__(self, get_offset: GetOffset, set_offset: SetOffset, originals: Optional[Dict[str, int]] = None):
        self._get = get_offset
        self._set = set_offset
        self.originals: Dict[str, int] = dict(originals or {})
        self.source = ""
        self.margin_ms = 0
        self.applied_ns: Optional[int] = None
        self._smoothed_ms: Optional[float] = None
        self._lock = threading.RLock()

    def configure(self, source: str, margin_ms: int) -> None:
        """New settings: a source no longer chosen gets its own offset back; a new margin counts from the
        next status."""
        with self._lock:
            self._configure(source.strip(), margin_ms)

    def _configure(self, source: str, margin_ms: int) -> None:
        if source != self.source:
            self.restore()
            self.source = source
            self._smoothed_ms = None
        if margin_ms != self.margin_ms:
            self.margin_ms = margin_ms
            self.applied_ns = None

    def update(self, latency_ms: Optional[float]) -> None:
        """One fresh status's latency p50 (None: the daemon is unreachable or has no figure yet)."""
        with self._lock:
            if self.source and latency_ms is not None:
                self._follow(latency_ms)

    def _follow(self, latency_ms: float) -> None:
        previous = self._smoothed_ms
        self._smoothed_ms = latency_ms if previous is None else previous + SYNC_SMOOTHING * (latency_ms - previous)
        target = round((self._smoothed_ms + self.margin_ms) * NS_PER_MS)
        if self.applied_ns is not None and abs(target - self.applied_ns) <= SYNC_DEADBAND_MS * NS_PER_MS:
            return
        if self.source not in self.originals:
            current = self._get(self.source)
            if current is None:
                return  # no such source (yet): try again with the next status
            self.originals[self.source] = current
        if self._set(self.source, target):
            self.applied_ns = target

    def stop(self) -> None:
        """Restore the source and follow nothing until configured again (script unload, OBS exit)."""
        self.configure("", self.margin_ms)

    def restore(self) -> None:
        """Give the synced source its own offset back (setting cleared, other source, script unloading)."""
        with self._lock:
            original = self.originals.pop(self.source, None)
            if self.source and original is not None:
                self._set(self.source, original)
            self.applied_ns = None
