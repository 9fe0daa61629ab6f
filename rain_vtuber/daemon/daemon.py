"""The daemon's lifecycle: bind the control port, stream until a signal or /rain/shutdown, clean up.

`run(config)` is what `rain-vtuber daemon` calls. The control commands and the status JSON live here;
the stream itself is the Pipeline.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from typing import Any, NoReturn

from rain_vtuber import __version__
from rain_vtuber.daemon.characters import CharacterRegistry
from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.control import Command, ControlServer
from rain_vtuber.daemon.state_file import load_state, save_state
from rain_vtuber.daemon.pipeline import Pipeline
from rain_vtuber.errors import RainError

log = logging.getLogger(__name__)


class Daemon:
    """Holds the registry and the pipeline and answers control commands."""

    def __init__(self, config: DaemonConfig, stop: threading.Event, engine: Any = None) -> None:
        """engine: streams instead of loading `config.weights` (see Pipeline)."""
        self.config = config
        self.stop = stop
        self.started = time.monotonic()
        self.saved = load_state(config.state_path())
        self.registry = self._open_registry()
        self.pipeline = Pipeline(config, self.registry, stop, engine)

    def _open_registry(self) -> CharacterRegistry:
        """The remembered character when it still exists, else the configured one; remembered recenters applied."""
        cfg, remembered = self.config, self.saved.character
        registry = None
        if remembered is not None and remembered != cfg.character:
            try:
                registry = CharacterRegistry(cfg.characters_dir, cfg.calibration_dir, remembered)
                log.info("back on character %s (remembered in %s)", remembered, cfg.state_path())
            except RainError as err:
                log.warning("the remembered character is gone (%s); starting with %s", err, cfg.character)
        if registry is None:
            registry = CharacterRegistry(cfg.characters_dir, cfg.calibration_dir, cfg.character)
        self._apply_saved(registry)
        return registry

    def _apply_saved(self, registry: CharacterRegistry) -> None:
        for name in registry.names():
            entry = registry.get(name)
            entry.calibration = self.saved.apply(name, entry.calibration)

    def _remember(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.saved, key, value)
        save_state(self.saved, self.config.state_path())

    def commands(self) -> dict[str, Command]:
        return {
            "/rain/character": Command(self.switch, (str,), "one character name"),
            "/rain/character/next": Command(lambda: self.switch(self.registry.neighbour(1))),
            "/rain/character/prev": Command(lambda: self.switch(self.registry.neighbour(-1))),
            "/rain/pause": Command(self.pause),
            "/rain/resume": Command(self.resume),
            "/rain/recenter": Command(self.recenter),
            "/rain/latency": Command(self.set_latency, (str,), "standard or low"),
            "/rain/expression": Command(self.expression, (str, str), "an expression name and on, off or toggle"),
            "/rain/expression/clear": Command(self.clear_expressions),
            "/rain/reload": Command(self.reload),
            "/rain/shutdown": Command(self.shutdown),
            "/rain/ping": Command(lambda: f"pong {__version__}"),
            "/rain/status": Command(lambda: json.dumps(self.status())),
        }

    def switch(self, name: str) -> str:
        entry = self.registry.select(name)
        self.pipeline.set_character(entry)
        self._remember(character=name)
        log.info("character -> %s", name)
        return f"character {name}"

    def pause(self) -> str:
        self.pipeline.pause()
        return "paused"

    def resume(self) -> str:
        self.pipeline.resume()
        return "resumed"

    def recenter(self) -> str:
        framing = self.pipeline.recenter().framing
        entry = self.registry.current
        entry.calibration = entry.calibration.model_copy(update={"framing": framing})  # kept across switches
        self._remember(neutral={**self.saved.neutral, entry.name: (framing.neutral_x, framing.neutral_y)})
        return "recentered"

    def set_latency(self, mode: str) -> str:
        self.pipeline.set_latency(mode)
        log.info("latency -> %s requested", mode)
        return f"latency {mode}"

    def expression(self, name: str, action: str) -> str:
        on = self.pipeline.set_expression(name, action)
        log.info("expression %s %s", name, "on" if on else "off")
        return f"expression {name} {'on' if on else 'off'}"

    def clear_expressions(self) -> str:
        self.pipeline.driver.expressions.clear()
        return "expressions cleared"

    def reload(self) -> str:
        errors = self.registry.reload()
        self._apply_saved(self.registry)
        self.pipeline.set_calibration(self.registry.current)
        if errors:
            raise RainError("kept the previous calibration for: " + " | ".join(errors))
        return f"reloaded {len(self.registry.names())} characters"

    def shutdown(self) -> str:
        log.info("shutdown requested over the control port")
        self.stop.set()
        return "shutting down"

    def status(self) -> dict[str, Any]:
        return {
            "state": self.pipeline.state,
            "error": self.pipeline.error,
            "character": self.registry.active,
            "characters": self.registry.status(),
            "source": self.pipeline.source_status(),
            **self.pipeline.stats(),
            "uptime_s": round(time.monotonic() - self.started, 1),
            "version": __version__,
        }


def setup_logging(config: DaemonConfig) -> None:
    """Console (kept from the CLI's basicConfig) plus a rotating log file."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.log_file is None:
        return
    try:
        config.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            config.log_file, maxBytes=config.log_max_bytes, backupCount=config.log_backups, encoding="utf-8"
        )
    except OSError as err:
        raise RainError(f"cannot write the log file {config.log_file}: {err}; set log_file in the config") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)


def exit_process(code: int) -> NoReturn:
    """Flush logs and end the process now.

    Native threads (torch's pools, libndi's workers) can abort the interpreter's teardown after a
    clean shutdown ("terminate called without an active exception", exit 134); everything that
    matters is already closed here, so skip that teardown.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(config: DaemonConfig) -> int:
    """Run until SIGINT/SIGTERM or /rain/shutdown; 0 on a clean stop, RainError if startup failed."""
    setup_logging(config)
    stop = threading.Event()
    # binds first: one daemon per port, and a LAN-reachable port without a token stops here
    control = ControlServer(config.control_port, {}, token=config.token, host=config.control_host)
    daemon: Daemon | None = None

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C while shutting down: leave at once
            exit_process(128 + signum)
        log.info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        daemon = Daemon(config, stop)
        control.commands = daemon.commands()
        control.start()
        daemon.pipeline.start()
        log.info("control on %s:%d", control.host, config.control_port)
        while not stop.wait(0.5):
            pass
    finally:
        begun = time.monotonic()
        if daemon is not None:
            daemon.pipeline.close()
        control.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped in %.2f s", time.monotonic() - begun)
    if daemon is not None and daemon.pipeline.error:
        raise RainError(daemon.pipeline.error)
    return 0
