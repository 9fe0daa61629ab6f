"""Runs real OBS Studio headless for tests: Xvfb, a pre-written OBS config, process bookkeeping.

See ../shared/spec/obs-headless.md for the facts this relies on (OBS 29 from Debian).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

import pytest

from rain_vtuber.utils.ports import free_port
from tests.conftest import requires
from tests.waiting import wait_until

T = TypeVar("T")

OBS_VERSION_29_0_2 = (29 << 24) + 2
PROFILE = "RainTest"
COLLECTION = "RainTest"


def missing_tools() -> list[str]:
    """Names of the executables the real-OBS test needs that are not installed."""
    return [tool for tool in ("obs", "Xvfb") if shutil.which(tool) is None]


MISSING = missing_tools()
REAL_OBS = [  # pytestmark of every real-OBS test module: skips locally, fails under CI=true
    pytest.mark.obs,
    pytest.mark.e2e,
    requires(
        f"real OBS test needs {' and '.join(MISSING)}: "
        "apt-get install -y --no-install-recommends obs-studio xvfb xauth (scripts/install-test-system-deps.sh)"
        if MISSING else None
    ),
]


def daemon_status(port: int) -> Optional[dict[str, Any]]:
    """The daemon's /rain/status on `port`, or None while nobody answers there."""
    from rain_vtuber.daemon.control import send_command
    from rain_vtuber.errors import RainError

    try:
        state, text = send_command("/rain/status", port=port, timeout=0.5)
    except RainError:
        return None
    assert state == "ok", text
    return json.loads(text)


def port_open(port: int) -> bool:
    """True once something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


PROBE_SCRIPT = """
import json
import obspython as obs


def probe():
    import rain_vtuber_obs as rain  # the module OBS loaded just before this one
    if rain._script is None or rain._script.controller.status is None:
        return
    obs.timer_remove(probe)
{body}
    print("PROBE " + json.dumps(report))


def script_load(settings):
    obs.timer_add(probe, 200)
"""


def write_probe(path: Path, body: str) -> Path:
    """An OBS script at `path` that, once the RAIN script has its first daemon status, runs `body` once
    under OBS's real obspython (`obs`; the loaded RAIN script module is `rain`) and logs the dict
    `report` it builds as one "PROBE {json}" line (HeadlessObs.probe_report reads it back)."""
    path.write_text(PROBE_SCRIPT.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")))
    return path


def write_obs_config(
    root: Path, scripts: list[tuple[Path, dict[str, Any]]], ws_port: int, inputs: Sequence[dict[str, Any]] = ()
) -> Path:
    """A fresh $XDG_CONFIG_HOME in which OBS skips its wizard and loads `scripts` (path, settings) in order.

    inputs: sources as OBS saves them ({"id", "name", "uuid", "settings", "sync": offset ns, ...}), each
    also placed in the scene.
    """
    obs_dir = root / "obs-studio"
    profile = obs_dir / "basic" / "profiles" / PROFILE
    scenes = obs_dir / "basic" / "scenes"
    profile.mkdir(parents=True)
    scenes.mkdir(parents=True)
    (obs_dir / "global.ini").write_text(
        "[General]\nFirstRun=true\n"
        f"LastVersion={OBS_VERSION_29_0_2}\n"
        "Pre19Defaults=false\nPre21Defaults=false\nPre23Defaults=false\nPre24.1Defaults=false\n\n"
        f"[Basic]\nProfile={PROFILE}\nProfileDir={PROFILE}\n"
        f"SceneCollection={COLLECTION}\nSceneCollectionFile={COLLECTION}\n\n"
        "[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\n"
        f"ServerPort={ws_port}\nAlertsEnabled=false\nAuthRequired=false\n"
    )
    (profile / "basic.ini").write_text(
        f"[General]\nName={PROFILE}\n\n[Video]\nBaseCX=640\nBaseCY=360\nOutputCX=640\nOutputCY=360\n"
        "FPSType=1\nFPSInt=10\n"
    )
    items = [{"name": s["name"], "source_uuid": s["uuid"], "visible": True, "id": i + 1} for i, s in enumerate(inputs)]
    scene = {"id": "scene", "versioned_id": "scene", "name": "Scene", "uuid": "rain-test-scene",
             "settings": {"items": items, "id_counter": len(items)}}
    collection = {
        "name": COLLECTION,
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "scene_order": [{"name": "Scene"}],
        "sources": [scene, *inputs],
        "modules": {"scripts-tool": [{"path": str(path), "settings": settings} for path, settings in scripts]},
    }
    (scenes / f"{COLLECTION}.json").write_text(json.dumps(collection, indent=2))
    return root


def saved_script_settings(xdg: Path) -> dict[str, Any]:
    """The script settings OBS wrote back into the scene collection on a clean exit."""
    data = json.loads((xdg / "obs-studio" / "basic" / "scenes" / f"{COLLECTION}.json").read_text())
    return data["modules"]["scripts-tool"][0]["settings"]


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display number it picks itself; returns (process, ':N')."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:  # read to the newline: closing early can kill Xvfb
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                stop_process(proc)
                raise RuntimeError("Xvfb exited before it reported its display number")
            number += chunk
    return proc, f":{number.decode().strip()}"


def start_obs(xdg: Path, display: str, log_path: Path, extra_env: Optional[dict[str, str]] = None) -> subprocess.Popen:
    """OBS with its own config folder, on `display`, output to `log_path`."""
    # importing cv2 points QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt plugins, which OBS cannot load
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(XDG_CONFIG_HOME=str(xdg), DISPLAY=display, LIBGL_ALWAYS_SOFTWARE="1")
    env.update(extra_env or {})
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            ["obs", "--multi", "--disable-missing-files-check"],
            cwd=xdg,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def children(pid: int) -> list[int]:
    """PIDs of the live (non-zombie) children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """End a process we started, by its PID: SIGTERM, then SIGKILL; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def kill_pid(pid: int) -> None:
    """SIGKILL a process that is not our child (a daemon OBS started), if it still exists."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class HeadlessObs:
    """Xvfb + OBS for one test; `close()` ends every process it caused, by PID."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws_port = free_port("tcp")
        self.log = root / "obs.log"
        self.xdg = root / "xdg"
        self.others: set[int] = set()  # PIDs OBS's children had (daemons): killed in close()
        self._popen: list[subprocess.Popen] = []

    def start(
        self,
        scripts: list[tuple[Path, dict[str, Any]]],
        extra_env: Optional[dict[str, str]] = None,
        inputs: Sequence[dict[str, Any]] = (),
    ) -> subprocess.Popen:
        """OBS on its own Xvfb display, loading `scripts` (and a scene with `inputs`); returns the OBS process."""
        write_obs_config(self.xdg, scripts, self.ws_port, inputs)
        xvfb, display = start_xvfb()
        self._popen.append(xvfb)
        self.proc = start_obs(self.xdg, display, self.log, extra_env)
        self._popen.append(self.proc)
        return self.proc

    def wait(self, what: str, probe: Callable[[], Optional[T]], timeout: float) -> T:
        """wait_until `probe` is truthy, failing at once if OBS exits meanwhile; either failure shows OBS's log."""
        return wait_until(probe, timeout, poll_s=0.2, alive=self.proc,
                          what=lambda: f"{what}; OBS's log ends:\n{self.said()[-3000:]}")

    def websocket(self, timeout: float = 30.0) -> Any:
        """An obs-websocket client (obsws_python.ReqClient) once OBS listens: it opens the port after
        the scripts have loaded, so a daemon they started may answer first. Disconnect it before stopping
        OBS (a connected client makes OBS wait 5 s for the close handshake on exit)."""
        import obsws_python

        self.wait("obs-websocket to listen", lambda: port_open(self.ws_port), timeout)
        return obsws_python.ReqClient(host="127.0.0.1", port=self.ws_port, timeout=10)

    def probe_report(self, timeout: float = 30.0) -> dict[str, Any]:
        """The report of a write_probe script, once OBS has logged it."""
        line = self.wait(f"the probe's report in {self.log}",
                         lambda: next((line for line in self.said().splitlines() if "PROBE {" in line), None), timeout)
        return json.loads(line.split("PROBE ", 1)[1])

    def said(self) -> str:
        """Everything OBS logged so far (script prints included)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def close(self) -> None:
        for pid in self.others:
            kill_pid(pid)
        for proc in reversed(self._popen):
            stop_process(proc)
