"""pyproject.toml asks pip for ndi-python exactly where PyPI has a wheel of it (it has no source release)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]

# (sys_platform, platform_machine, python_version, PyPI has an ndi-python 6.3.2 wheel), as `pip download
# ndi-python --no-deps --only-binary=:all: --platform ... --python-version ...` found it. The macOS wheels
# also need macOS 13, which the marker cannot say (test below).
WHEELS_ON_PYPI = [
    ("linux", "x86_64", "3.10", True), ("linux", "aarch64", "3.14", True), ("linux", "armv7l", "3.12", True),
    ("linux", "x86_64", "3.15", True), ("win32", "AMD64", "3.13", True), ("darwin", "arm64", "3.14", True),
    ("darwin", "arm64", "3.10", True),
    ("darwin", "x86_64", "3.11", False), ("win32", "ARM64", "3.12", False), ("linux", "riscv64", "3.12", False),
    ("linux", "x86_64", "3.16", False),
]


def ndi_requirement() -> Requirement:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(Requirement(d) for d in dependencies if Requirement(d).name == "ndi-python")


@pytest.mark.parametrize("system, machine, python, has_wheel", WHEELS_ON_PYPI)
def test_pip_asks_for_ndi_python_exactly_where_pypi_has_a_wheel(
    system: str, machine: str, python: str, has_wheel: bool
) -> None:
    environment = {"sys_platform": system, "platform_machine": machine, "python_version": python}
    assert ndi_requirement().marker.evaluate(environment) is has_wheel


def test_the_marker_compares_no_platform_release() -> None:
    """pip 24.2's packaging raises InvalidVersion on `platform_release >= "22"` (macOS 13) under a Linux
    kernel such as 6.18.44-fc-v1300, even inside a false `sys_platform == "darwin"` clause: `pip install .`
    then fails on Linux (seen with Python 3.13's pip)."""
    assert "platform_release" not in str(ndi_requirement().marker)
