"""THE OBS test: real OBS Studio 29 (headless, Xvfb) loads the script, which runs the real daemon.

OBS loads rain_vtuber_obs.py from a pre-written scene collection; the script starts
`rain-vtuber daemon` (tiny CPU weights, VMC source, 128x128, two generated characters); the test
sees the daemon answer /rain/status, fires a character hotkey through obs-websocket, kills the
daemon and sees the script restart it, then stops OBS with SIGINT and checks no daemon is left.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any, Optional

from rain_vtuber.utils.ports import free_port
from tests.conftest import require

from obs_runner import (
    REAL_OBS, HeadlessObs, alive, children, daemon_status, kill_pid, saved_script_settings, write_probe
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "obs_scripts" / "rain_vtuber_obs.py"
BACKGROUNDS = {"alice": (240, 240, 240), "bob": (30, 160, 90)}  # generated characters
CHARACTERS = tuple(BACKGROUNDS)
DAEMON_UP_S = 180.0  # torch import + tiny engine + fusing two references on 2 shared CPU cores

pytestmark = REAL_OBS


def _write_daemon_setup(root: Path, control_port: int, tiny: Path) -> Path:
    """Two generated characters and a daemon config: tiny weights, VMC source, 128x128."""
    from rain_vtuber.daemon.soak import make_demo_characters

    make_demo_characters(root, BACKGROUNDS)
    config = root / "daemon.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML; relative folders resolve against this file's folder
            {
                "weights": str(tiny / "weights"),
                "engine_config": str(tiny / "config.yaml"),
                "characters_dir": "characters",
                "calibration_dir": "calibration",
                "character": CHARACTERS[0],
                "source": {"kind": "vmc", "host": "127.0.0.1", "port": free_port()},
                "resolution": 128,
                "device": "cpu",
                "dtype": "fp32",
                "ndi_name": f"rain-obs-test-{control_port}",
                "control_port": control_port,
                "log_file": str(root / "daemon.log"),
            },
            indent=2,
        )
    )
    return config


def _all_ready(port: int) -> bool:
    """True once the daemon reports every character fused (switching to them is instant)."""
    status = daemon_status(port)
    return status is not None and all(c["state"] == "ready" for c in status["characters"].values())


def _daemon_pid(obs_pid: int, exclude: tuple[int, ...] = ()) -> Optional[int]:
    kids = [pid for pid in children(obs_pid) if pid not in exclude]
    return kids[0] if len(kids) == 1 else None


def test_obs_runs_the_daemon_and_switches_characters_by_hotkey(
    tmp_path: Path, headless_obs: HeadlessObs, shared: Path
) -> None:
    control_port = free_port()
    config = _write_daemon_setup(tmp_path / "rig", control_port, shared / "golden" / "tiny")
    script_settings = {"executable": sys.executable, "config": str(config), "port": control_port}
    env = {"PYTHONPATH": str(REPO), "RAIN_VTUBER_HOME": str(tmp_path / "home")}  # OBS passes both to the daemon
    obs = headless_obs.start([(SCRIPT, script_settings)], env)

    # 1. OBS loaded the script, the script started the daemon, the daemon answers
    daemon = headless_obs.wait("OBS to start the daemon", lambda: _daemon_pid(obs.pid), 30.0)
    headless_obs.others.add(daemon)

    def first_status() -> Optional[dict[str, Any]]:
        died = [line for line in headless_obs.said().splitlines() if "daemon exited with code" in line]
        assert not died, f"the daemon OBS started died: {died[0]}"
        return daemon_status(control_port)

    status = headless_obs.wait(
        f"the daemon to answer /rain/status (OBS log: {headless_obs.log}, daemon log: {config.parent / 'daemon.log'})",
        first_status,
        DAEMON_UP_S,
    )
    assert status["character"] == CHARACTERS[0]

    # 2. the script registered a hotkey per character; firing one switches the daemon
    client = headless_obs.websocket()
    try:
        hotkeys = headless_obs.wait(
            "character hotkeys in GetHotkeyList",
            lambda: [h for h in client.get_hotkey_list().hotkeys if h.startswith("rain_vtuber.")]
            if "rain_vtuber.character.bob" in client.get_hotkey_list().hotkeys
            else None,
            15.0,
        )
        assert {f"rain_vtuber.character.{c}" for c in CHARACTERS} <= set(hotkeys)
        assert {"rain_vtuber.next", "rain_vtuber.prev", "rain_vtuber.pause", "rain_vtuber.resume"} <= set(hotkeys)
        headless_obs.wait("both characters to be fused", lambda: _all_ready(control_port), DAEMON_UP_S)
        client.trigger_hotkey_by_name("rain_vtuber.character.bob")
        headless_obs.wait(
            "the hotkey to switch to bob", lambda: (daemon_status(control_port) or {}).get("character") == "bob", 10.0
        )
    finally:
        client.disconnect()  # a connected client makes OBS wait 5 s for the close handshake on exit

    # 3. a killed daemon is restarted by the script
    kill_pid(daemon)
    second = headless_obs.wait("the script to restart the daemon", lambda: _daemon_pid(obs.pid, (daemon,)), 30.0)
    headless_obs.others.add(second)
    headless_obs.wait("the restarted daemon to answer", lambda: daemon_status(control_port), DAEMON_UP_S)
    assert "daemon exited with code -9" in headless_obs.said()

    # 4. SIGINT stops OBS cleanly, and the script stops the daemon with it
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    assert not alive(second), "the daemon outlived OBS"
    said = headless_obs.said()
    assert ", graceful)" in said, said[-3000:]  # /rain/shutdown was enough: no terminate, no kill
    assert "Traceback" not in said, said[-3000:]
    saved = saved_script_settings(headless_obs.xdg)
    assert json.loads(saved["known_characters"]) == list(CHARACTERS)
    assert "rain_vtuber.character.bob" in saved["hotkeys"]


PROBE = """
props = rain.script_properties()
refreshed = obs.obs_property_button_clicked(obs.obs_properties_get(props, "refresh"), None)
combo = obs.obs_properties_get(props, "character")
items = [obs.obs_property_list_item_string(combo, i) for i in range(obs.obs_property_list_item_count(combo))]
obs.obs_properties_apply_settings(props, rain._script.settings)  # runs the modified callbacks
status = obs.obs_data_get_string(rain._script.settings, "status")
stopped = obs.obs_property_button_clicked(obs.obs_properties_get(props, "stop"), None)
obs.obs_properties_destroy(props)
report = {"refreshed": refreshed, "items": items, "status": status, "stopped": stopped}
"""


def test_properties_work_in_real_obs(tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int) -> None:
    """script_properties and its buttons under OBS's real obspython (against the fake daemon)."""
    probe = write_probe(tmp_path / "probe_rain_props.py", PROBE)
    obs = headless_obs.start([(SCRIPT, {"executable": str(fake_daemon_exe), "port": port}), (probe, {})])
    report = headless_obs.probe_report()
    assert report["refreshed"] is True and report["stopped"] is True
    assert report["items"] == ["", "alice", "bob"]
    assert report["status"].startswith("running | streaming | alice | 12.5 fps")
    headless_obs.wait("the stop button to stop the daemon", lambda: "daemon stopped (code 0, graceful)" in headless_obs.said(), 10.0)
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    assert "Traceback" not in headless_obs.said(), headless_obs.said()[-3000:]


REMOTE_PROBE = """
import obspython as obs

seen = []


def probe():
    import rain_vtuber_obs as script
    if script._script is not None:
        line = script._script.controller.status_line()
        if not seen or seen[-1] != line:
            seen.append(line)
            print("REMOTE " + line)


def script_load(settings):
    obs.timer_add(probe, 250)
"""


def test_obs_controls_a_daemon_on_another_pc_it_did_not_start(
    tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int
) -> None:
    """Remote mode: the daemon (here the test's fake one, on this PC's LAN address with a token) is
    controlled by hotkey and shown in the status line, never started or stopped; when it goes away
    the status says "not reachable" and OBS keeps running."""
    import subprocess

    from rain_vtuber.daemon.lan import lan_addresses

    addresses = lan_addresses()
    if not addresses:
        require("this machine has no LAN address to bind the remote daemon to")
    host = addresses[0]

    def remote_daemon() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("fake_daemon.py")), "daemon", "--control-port", str(port),
             "--host", host, "--token", "lan-s3cret"],
            stdout=subprocess.PIPE, text=True,
        )
        assert "listening" in proc.stdout.readline()
        return proc

    daemon = remote_daemon()
    try:
        probe = tmp_path / "probe_rain_remote.py"
        probe.write_text(REMOTE_PROBE)
        settings = {"executable": str(fake_daemon_exe), "host": host, "port": port, "token": "lan-s3cret"}
        obs = headless_obs.start([(SCRIPT, settings), (probe, {})])
        where = f"REMOTE remote {host}:{port} | "
        headless_obs.wait("the remote daemon's status in OBS", lambda: f"{where}streaming | alice" in headless_obs.said(), 30.0)
        client = headless_obs.websocket()
        try:
            headless_obs.wait(
                "the bob hotkey", lambda: "rain_vtuber.character.bob" in client.get_hotkey_list().hotkeys, 15.0
            )
            client.trigger_hotkey_by_name("rain_vtuber.character.bob")
        finally:
            client.disconnect()
        headless_obs.wait("the hotkey to switch the remote daemon", lambda: f"{where}streaming | bob" in headless_obs.said(), 10.0)
        assert children(obs.pid) == [], "OBS started a daemon although the daemon PC is another one"
        daemon.kill()
        daemon.wait(timeout=5)
        headless_obs.wait("'not reachable'", lambda: f"{where}not reachable" in headless_obs.said(), 15.0)
        daemon = remote_daemon()  # the other PC's daemon comes back: OBS picks it up again
        headless_obs.wait("the status to recover", lambda: headless_obs.said().count(f"{where}streaming | alice") >= 2, 15.0)
        obs.send_signal(signal.SIGINT)
        obs.wait(30)
        said = headless_obs.said()
        assert "Traceback" not in said, said[-3000:]
        assert daemon.poll() is None, "OBS stopped a daemon it did not start"
        assert "daemon started" not in said
        print("\n".join(line.split("REMOTE ", 1)[1] for line in said.splitlines() if "REMOTE " in line))
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=5)
