"""ndi_compat on the real NDI runtime of whichever ndi-python this Python got, and with ndi-python hidden
or broken. scripts/smoke-other-python.sh runs this file on Python 3.10 too (ndi-python 6.3.2.4, whose
send_get_source_name binding is broken)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from packaging.version import Version

from rain_vtuber.outputs.base import OutputUnavailable
from rain_vtuber.outputs.ndi import _acquire_runtime, _release_runtime
from rain_vtuber.outputs.ndi_compat import host_source_name, import_ndilib, listed_source_name, sender_source_name
from rain_vtuber.outputs.ndi_receiver import NdiProbe

REPO = Path(__file__).resolve().parents[2]
NDI_VERSION = Version(importlib.metadata.version("ndi-python"))
BROKEN_NAME_BINDING = Version("6.3.2.0") <= NDI_VERSION < Version("6.3.2.6")


@contextmanager
def raw_sender() -> Iterator[tuple[Any, Any, str]]:
    """(NDIlib, a send instance, the name it was created with) straight from the binding."""
    ndi = _acquire_runtime()
    name = f"rain-compat-{uuid.uuid4().hex[:8]}"
    create = ndi.SendCreate()
    create.ndi_name = name
    send = ndi.send_create(create)
    try:
        yield ndi, send, name
    finally:
        ndi.send_destroy(send)
        _release_runtime(ndi)


def seen_by_a_receiver(name: str) -> str:
    probe = NdiProbe(name, timeout=20)
    try:
        return probe.source_name
    finally:
        probe.close()


def test_the_name_binding_is_broken_exactly_in_the_releases_the_module_names() -> None:
    with raw_sender() as (ndi, send, name):
        if BROKEN_NAME_BINDING:
            with pytest.raises(TypeError, match="Unable to convert function return value"):
                ndi.send_get_source_name(send)
        else:
            assert ndi.send_get_source_name(send).ndi_name == seen_by_a_receiver(name)


def test_sender_source_name_is_the_name_a_receiver_finds() -> None:
    with raw_sender() as (ndi, send, name):
        assert sender_source_name(ndi, send, name) == seen_by_a_receiver(name)


def test_the_loopback_finder_lists_this_process_source_and_no_other_name() -> None:
    with raw_sender() as (ndi, send, name):
        assert listed_source_name(ndi, name, timeout=10.0) == seen_by_a_receiver(name)
        started = time.monotonic()
        assert listed_source_name(ndi, f"{name}-nobody", timeout=0.3) is None
        assert time.monotonic() - started >= 0.3


@pytest.mark.skipif(sys.platform != "linux", reason="the host-name rule was checked on Linux only")
def test_the_last_resort_name_is_the_one_ndi_gives_on_linux() -> None:
    with raw_sender() as (ndi, send, name):
        assert host_source_name(name) == seen_by_a_receiver(name)


def test_a_missing_ndi_python_makes_the_output_unavailable_with_the_platform_and_the_way_out(monkeypatch) -> None:
    from rain_vtuber.cli.doctor import check_ndi

    monkeypatch.setitem(sys.modules, "NDIlib", None)  # `import NDIlib` now fails as where it is not installed
    system = {"Darwin": "macOS"}.get(platform.system(), platform.system())
    here = f"Python {sys.version_info.major}.{sys.version_info.minor} on {system} {platform.machine()}"
    with pytest.raises(OutputUnavailable) as err:
        _acquire_runtime()
    message = str(err.value)
    assert message.startswith(f"NDI output unavailable: ndi-python is not installed for {here} (PyPI has wheels")
    assert "use the browser output" in message and "\n" not in message
    with pytest.raises(OutputUnavailable, match="ndi-python is not installed"):
        import_ndilib()
    row = check_ndi()
    assert row.status == "warn" and row.detail == message


def test_an_ndi_python_that_does_not_load_is_unavailable_with_the_loader_error(tmp_path: Path) -> None:
    """The real binding without its libndi next to it: what a half-removed or stripped install does."""
    installed = Path(import_ndilib().__file__).parent
    broken = tmp_path / "NDIlib"
    broken.mkdir()
    for part in [installed / "__init__.py", *installed.glob("NDIlib*")]:
        shutil.copy(part, broken)
    run = subprocess.run(
        [sys.executable, "-c", "from rain_vtuber.cli.doctor import check_ndi; r = check_ndi(); print(r.status); "
         "print(r.detail)"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])},
    )
    assert run.returncode == 0, run.stderr
    status, detail = run.stdout.strip().splitlines()
    assert status == "warn"
    assert detail.startswith("NDI output unavailable: ndi-python is installed but does not load on Python")
    assert "libndi" in detail and "pip install --force-reinstall ndi-python" in detail

