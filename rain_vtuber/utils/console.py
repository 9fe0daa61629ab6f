"""The one console every command prints through for people (stderr); results meant for scripts go to stdout."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
