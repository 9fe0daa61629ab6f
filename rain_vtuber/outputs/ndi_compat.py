"""What differs between the ndi-python releases and platforms the supported Pythons get, in one place.

* Where ndi-python has no wheel (pyproject.toml installs it only where PyPI has one) `import NDIlib`
  fails: import_ndilib() turns that into OutputUnavailable with the platform, the Python and the way out.
* ndi-python 6.3.2.0 to 6.3.2.5 bind `send_get_source_name` to the SDK's raw `NDIlib_source_t`, a type
  they never registered with pybind11 (their Python `Source` wraps it), so every call raises
  "TypeError: Unable to convert function return value to a Python type". 6.3.2.6 fixed it, but it has
  no Python 3.10 wheel: 3.10 always gets 6.3.2.4. sender_source_name() then asks a finder on
  loopback for the source, and failing that builds the name the way NDI does on Linux.
"""

from __future__ import annotations

import platform
import socket
import sys
import time
from types import ModuleType
from typing import Any

from rain_vtuber.outputs.base import OutputUnavailable

# Where PyPI has ndi-python wheels (6.3.2.x); pyproject.toml's marker for ndi-python says the same.
NDI_WHEELS = "Python 3.10-3.15 on Windows x64, Linux x86_64/aarch64/armv7l and macOS 13+ on Apple silicon"
# Then the host-name rule. Beside 2 other NDI processes, fresh finders every 0.25 s found a source of
# their own process in 0 to 1.8 s (6 runs).
OWN_SOURCE_LOOKUP_S = 2.0
FINDER_RETRY_S = 0.25
LOOPBACK = "127.0.0.1"


def this_python() -> str:
    """"Python 3.14 on macOS arm64": what the wheel choice depends on, for messages."""
    system = {"Darwin": "macOS"}.get(platform.system(), platform.system())
    return f"Python {sys.version_info.major}.{sys.version_info.minor} on {system} {platform.machine()}"


def import_ndilib() -> ModuleType:
    """The NDIlib module, or OutputUnavailable saying why this system has none and what to use instead."""
    try:
        import NDIlib  # the wheel loads libndi on import

        return NDIlib
    except ImportError as err:
        if isinstance(err, ModuleNotFoundError) and err.name == "NDIlib":
            raise OutputUnavailable(
                f"NDI output unavailable: ndi-python is not installed for {this_python()} (PyPI has wheels "
                f"only for {NDI_WHEELS}); use the browser output, or install rain-vtuber with such a Python"
            ) from None
        raise OutputUnavailable(
            f"NDI output unavailable: ndi-python is installed but does not load on {this_python()} ({err}); "
            "run `pip install --force-reinstall ndi-python` (on Linux also install libavahi-client3), "
            "or use the browser output"
        ) from None


def host_source_name(name: str) -> str:
    """The name NDI gives a source called `name` on this host on Linux: "HOSTNAME (name)", the host in capitals."""
    return f"{socket.gethostname().upper()} ({name})"


def sender_source_name(ndi: Any, instance: Any, name: str, timeout: float = OWN_SOURCE_LOOKUP_S) -> str:
    """The full name receivers see ("HOST (name)") of the sender `instance` that send_create named `name`."""
    try:
        return ndi.send_get_source_name(instance).ndi_name
    except TypeError:  # ndi-python 6.3.2.0-6.3.2.5 (module docstring)
        return listed_source_name(ndi, name, timeout) or host_source_name(name)


def listed_source_name(ndi: Any, name: str, timeout: float) -> str | None:
    """The full name of this host's source `name` as a finder on loopback lists it; None if not listed in time.

    Every NDI process on the host listens on TCP 5960 (SO_REUSEPORT), and the one that answers a finder
    may not list this process's sources: a fresh finder asks again every FINDER_RETRY_S.
    """
    create = ndi.FindCreate()
    create.extra_ips = LOOPBACK
    suffix = f" ({name})"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finder = ndi.find_create_v2(create)
        retry_at = min(deadline, time.monotonic() + FINDER_RETRY_S)
        try:
            while True:
                for source in ndi.find_get_current_sources(finder):
                    if source.ndi_name.endswith(suffix) and source.url_address.startswith(f"{LOOPBACK}:"):
                        return source.ndi_name
                left = retry_at - time.monotonic()
                if left <= 0:
                    break
                ndi.find_wait_for_sources(finder, int(left * 1000) + 1)
        finally:
            ndi.find_destroy(finder)
    return None
