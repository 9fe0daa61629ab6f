"""An installed rain-vtuber works from any folder, as a new user would run it.

A wheel of this checkout is installed into a temporary folder; every command runs with only that
folder on the path (not the checkout), from a folder outside the checkout, with HOME and the XDG
folders temporary. The daemon runs on the tiny CPU weights with a VMC source nobody sends to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from PIL import Image

from rain_vtuber.daemon.control import send_command
from rain_vtuber.utils.ports import free_port
from rain_vtuber.errors import RainError
from tests.conftest import TINY_CONFIG, TINY_WEIGHTS, missing_path, requires
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
pytestmark = [requires(missing_path(TINY_WEIGHTS)), pytest.mark.e2e]  # builds and installs a wheel, runs the daemon


class NewUser:
    """The installed package plus a fresh HOME and XDG folders; runs rain-vtuber in a given folder."""

    def __init__(self, root: Path, site: Path) -> None:
        self.site, self.home, self.xdg = site, root / "home", root / "xdg"
        self.home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_") and k not in ("PYTHONPATH", "RAIN_VTUBER_HOME")}
        self.env = {**env, "HOME": str(self.home), "PYTHONPATH": str(site), "COLUMNS": "400",
                    **{f"XDG_{v}_HOME": str(self.xdg / v.lower()) for v in ("CACHE", "STATE", "DATA")}}
        self.data = self.xdg / "data" / "rain-vtuber"
        self.state = self.xdg / "state" / "rain-vtuber"

    def run(self, cwd: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=300)

    def cli(self, cwd: Path, *args: str) -> subprocess.CompletedProcess:
        return self.run(cwd, "-m", "rain_vtuber.cli.main", *args)

    def daemon_status(self, cwd: Path, *args: str) -> tuple[dict, str]:
        """Start the daemon in `cwd`, read /rain/status once it answers, shut it down; (status, its output)."""
        port = free_port()
        command = [sys.executable, "-m", "rain_vtuber.cli.main", "daemon", "--weights", str(TINY_WEIGHTS),
                   "--engine-config", str(TINY_CONFIG), "--device", "cpu", "--dtype", "fp32", "--output-size", "128",
                   "--source", "vmc", "--source-port", str(free_port()), "--control-port", str(port),
                   "--ndi-name", f"rain-installed-{uuid.uuid4().hex[:8]}", *args]
        out = cwd.parent / f"daemon-{port}.out"
        with open(out, "wb") as sink:
            proc = subprocess.Popen(command, cwd=cwd, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: proc.poll() is not None or _answers(port), timeout=120, what="the daemon's control port")
            assert proc.poll() is None, out.read_text()
            state, text = send_command("/rain/status", port=port, timeout=3.0)
            assert state == "ok", text
            send_command("/rain/shutdown", port=port, timeout=3.0)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        return json.loads(text), out.read_text()


def _answers(port: int) -> bool:
    try:
        return send_command("/rain/ping", port=port, timeout=0.5)[0] == "ok"
    except RainError:  # not listening yet
        return False


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the checkout (built from a copy: the checkout gets no build/ folder), installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO / "rain_vtuber", source / "rain_vtuber", ignore=shutil.ignore_patterns("__pycache__", "*.bak"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (root / "dist").glob("rain_vtuber-*.whl")
    installed = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(root / "site"), str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root / "site"


@pytest.fixture
def user(site: Path, tmp_path: Path) -> Iterator[NewUser]:
    yield NewUser(tmp_path, site)


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _picture(path: Path, colour: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (96, 96), colour).save(path)
    return path


def test_the_installed_package_ships_the_default_character(user: NewUser, tmp_path: Path) -> None:
    where = user.run(_folder(tmp_path, "anywhere"), "-c", "import rain_vtuber.paths as p; print(p.PACKAGED_HOME)")
    packaged = Path(where.stdout.strip())
    assert packaged == user.site / "rain_vtuber" / "packaged", where.stderr
    for name in ("characters/default/reference.png", "characters/default/character.yaml", "calibration/default.yaml"):
        assert (packaged / name).read_bytes() == (REPO / name).read_bytes()


def test_a_new_user_runs_the_daemon_from_an_empty_folder(user: NewUser, tmp_path: Path) -> None:
    empty = _folder(tmp_path, "empty")
    picture = _picture(tmp_path / "pictures" / "bob.png", "orange")
    made = user.cli(empty, "calibrate", "bob", "--image", str(picture), "--no-ui", "--scale", "0.9")
    assert made.returncode == 0, made.stderr
    bob, bob_calibration = user.data / "characters" / "bob", user.data / "calibration" / "bob.yaml"
    assert f"created {bob} and {bob_calibration}" in made.stderr  # the console writes to stderr
    assert (bob / "reference.png").read_bytes() == picture.read_bytes()

    status, output = user.daemon_status(empty)
    assert status["character"] == "default" and sorted(status["characters"]) == ["bob", "default"], output
    assert list(empty.iterdir()) == []  # nothing written into the folder it runs in
    packaged = user.site / "rain_vtuber" / "packaged"
    assert (user.data / "calibration" / "default.yaml").read_bytes() == (packaged / "calibration" / "default.yaml").read_bytes()
    assert f"wrote calibration {user.data / 'calibration' / 'default.yaml'}" in (user.state / "daemon.log").read_text()
    assert yaml.safe_load(bob_calibration.read_text())["framing"]["scale"] == 0.9


def test_the_current_folder_wins_and_the_config_keys_override(user: NewUser, tmp_path: Path) -> None:
    project = _folder(tmp_path, "project")
    _picture(project / "characters" / "default" / "reference.png", "purple")
    _picture(project / "characters" / "carol" / "reference.png", "teal")
    _picture(user.data / "characters" / "bob" / "reference.png", "orange")
    probe = ("import json; from rain_vtuber.landmarks.library import CharacterLibrary as L; "
             "print(json.dumps([(c.name, str(c.image_path), str(c.calibration_path)) for c in L().discover()]))")
    listed = user.run(project, "-c", probe)
    assert listed.returncode == 0, listed.stderr
    found = {name: (Path(image), Path(calibration)) for name, image, calibration in json.loads(listed.stdout)}
    assert found == {
        "bob": (user.data / "characters" / "bob" / "reference.png", user.data / "calibration" / "bob.yaml"),
        "carol": (project / "characters" / "carol" / "reference.png", project / "calibration" / "carol.yaml"),
        "default": (project / "characters" / "default" / "reference.png", project / "calibration" / "default.yaml"),
    }

    mine = _folder(tmp_path, "mine")
    _picture(mine / "chars" / "dora" / "reference.png", "navy")
    config = mine / "daemon.yaml"
    config.write_text(yaml.safe_dump({"characters_dir": "chars", "calibration_dir": "calib", "character": "dora"}))
    status, output = user.daemon_status(project, "--config", str(config))
    assert status["character"] == "dora" and sorted(status["characters"]) == ["dora"], output
    assert (mine / "calib" / "dora.yaml").is_file()
