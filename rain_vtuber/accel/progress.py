"""Progress for the long one-off jobs of the backends (compiling, exporting, building engines).

A spinner with the elapsed time on an interactive terminal, and start/finish log lines always,
so a daemon log also shows where the minutes went.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rain_vtuber.utils.console import console

log = logging.getLogger(__name__)


@contextmanager
def stage(message: str) -> Iterator[None]:
    """Show `message` while the block runs; log how long it took (or that it failed)."""
    log.info("%s ...", message)
    start = time.perf_counter()
    interactive = sys.stderr.isatty()
    try:
        if interactive:
            with console.status(f"{message} (first time: minutes; cached afterwards)"):
                yield
        else:
            yield
    except BaseException:
        log.warning("%s failed after %.1f s", message, time.perf_counter() - start)
        raise
    log.info("%s done in %.1f s", message, time.perf_counter() - start)
