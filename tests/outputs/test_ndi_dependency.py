"""pyproject.toml asks pip for ndi-python exactly where PyPI has a wheel of it (it has no source release)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


# (sys_platform, platform_machine, platform_release, python_version, PyPI has an ndi-python 6.3.2 wheel), as
# `pip download ndi-python --no-deps --only-binary=:all: --platform ... --python-version ...` found it
WHEELS_ON_PYPI = [
    ("linux", "x86_64", "6.1.0", "3.10", True), ("linux", "aarch64", "6.1.0", "3.14", True),
    ("linux", "armv7l", "6.1.0", "3.12", True), ("linux", "x86_64", "6.1.0", "3.15", True),
    ("win32", "AMD64", "10", "3.13", True), ("darwin", "arm64", "22.1.0", "3.14", True),  # macOS 13
    ("darwin", "arm64", "24.0.0", "3.10", True),
    ("darwin", "arm64", "21.6.0", "3.12", False),  # macOS 12: the wheels are macosx_13_0
    ("darwin", "x86_64", "23.0.0", "3.11", False), ("win32", "ARM64", "10", "3.12", False),
    ("linux", "riscv64", "6.1.0", "3.12", False), ("linux", "x86_64", "6.1.0", "3.16", False),
]


@pytest.mark.parametrize("system, machine, release, python, has_wheel", WHEELS_ON_PYPI)
def test_pip_installs_ndi_python_exactly_where_pypi_has_a_wheel(
    system: str, machine: str, release: str, python: str, has_wheel: bool
) -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ndi = next(Requirement(d) for d in dependencies if Requirement(d).name == "ndi-python")
    environment = {"sys_platform": system, "platform_machine": machine, "platform_release": release,
                   "python_version": python}
    assert ndi.marker.evaluate(environment) is has_wheel
