"""Expression hotkeys in real OBS Studio 29 (headless): listed and fired through obs-websocket.

The script runs the stand-in daemon (tests/obs/fake_daemon.py) with one character extra, `blush`,
and a command log. obs-websocket's GetHotkeyList must list the toggle and hold hotkeys of the six
built-in expressions and of `blush`, plus "clear expressions"; TriggerHotkeyByName (one press, no
release) must reach the daemon as `/rain/expression NAME toggle` / `on` and `/rain/expression/clear`.
On exit OBS saves the expressions seen, so their hotkeys exist next time without the daemon.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from obs_runner import REAL_OBS, HeadlessObs, daemon_status, saved_script_settings

SCRIPT = Path(__file__).resolve().parents[2] / "obs_scripts" / "rain_vtuber_obs.py"
EXPRESSIONS = ("wink_left", "wink_right", "eyes_closed", "surprised", "smile", "angry", "blush")

pytestmark = REAL_OBS


def test_expression_hotkeys_are_listed_and_fire_through_obs_websocket(
    tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int
) -> None:
    sent = tmp_path / "commands.jsonl"
    settings = {"executable": str(fake_daemon_exe), "port": port,
                "extra_args": f"--expressions blush --command-log {sent}"}
    obs = headless_obs.start([(SCRIPT, settings)])
    headless_obs.wait("the stand-in daemon", lambda: daemon_status(port), 30.0)

    def commands() -> list:
        return [json.loads(line) for line in sent.read_text().splitlines()] if sent.exists() else []

    client = headless_obs.websocket()
    try:
        hotkeys = headless_obs.wait(
            "blush's hotkeys in GetHotkeyList",
            lambda: (names := client.get_hotkey_list().hotkeys) and "rain_vtuber.expression.blush.hold" in names and names,
            15.0,
        )
        wanted = {f"rain_vtuber.expression.{name}{hold}" for name in EXPRESSIONS for hold in ("", ".hold")}
        assert wanted | {"rain_vtuber.expression.clear"} <= set(hotkeys)
        client.trigger_hotkey_by_name("rain_vtuber.expression.smile")
        headless_obs.wait("the toggle to reach the daemon", lambda: ["/rain/expression", "smile", "toggle"] in commands(), 10.0)
        assert daemon_status(port)["expressions"]["active"] == ["smile"]
        client.trigger_hotkey_by_name("rain_vtuber.expression.blush.hold")  # a press without a release: on
        client.trigger_hotkey_by_name("rain_vtuber.expression.clear")
        headless_obs.wait("clear to reach the daemon", lambda: ["/rain/expression/clear"] in commands(), 10.0)
        assert commands() == [
            ["/rain/expression", "smile", "toggle"], ["/rain/expression", "blush", "on"], ["/rain/expression/clear"]
        ]
        assert daemon_status(port)["expressions"]["active"] == []
    finally:
        client.disconnect()  # a connected client makes OBS wait 5 s for the close handshake on exit
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    said = headless_obs.said()
    assert "Traceback" not in said, said[-3000:]
    saved = saved_script_settings(headless_obs.xdg)
    assert json.loads(saved["known_expressions"]) == list(EXPRESSIONS)
    assert "rain_vtuber.expression.blush.hold" in saved["hotkeys"]
