"""Two network namespaces joined by a veth pair: a real network boundary on one machine.

"gpu" (10.99.0.1) plays the GPU PC that runs the daemon, "obs" (10.99.0.2) the streaming PC.
Each has its own loopback, so nothing can take a 127.0.0.1 shortcut between them.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

from tests.conftest import require

PREFIX = "10.99.0."
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


@dataclass
class Host:
    """One side of the link: namespace name, veth device, address."""

    netns: str
    device: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """argv run inside this namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def call(self, fn: Callable[[], T]) -> T:
        """fn() on a thread inside this namespace (sockets it opens live there): no process start-up."""
        result: list[T] = []
        errors: list[BaseException] = []

        def enter_and_run() -> None:
            fd = os.open(f"/var/run/netns/{self.netns}", os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {self.netns} failed")
            finally:
                os.close(fd)
            try:
                result.append(fn())
            except BaseException as err:  # re-raised in the caller
                errors.append(err)

        thread = threading.Thread(target=enter_and_run, name=f"in-{self.netns}")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return result[0]

    def rx_bytes(self) -> int:
        """Bytes this side received over the veth (the boundary), from the kernel's counters."""
        stats = json.loads(_ip("-n", self.netns, "-s", "-j", "link", "show", "dev", self.device))
        return int(stats[0]["stats64"]["rx"]["bytes"])

    def pids(self) -> list[int]:
        return [int(p) for p in _ip("netns", "pids", self.netns).split()]


class TwoPcs:
    """Create the namespaces and the link (root only); `close()` kills what runs inside and removes them."""

    def __init__(self) -> None:
        tag = str(os.getpid())
        self.gpu = Host(f"rain-gpu-{tag}", f"rgpu{tag}", PREFIX + "1")
        self.obs = Host(f"rain-obs-{tag}", f"robs{tag}", PREFIX + "2")
        try:
            for host in (self.gpu, self.obs):
                _ip("netns", "add", host.netns)
            _ip("link", "add", self.gpu.device, "type", "veth", "peer", "name", self.obs.device)
            for host in (self.gpu, self.obs):
                _ip("link", "set", host.device, "netns", host.netns)
                _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", host.device)
                _ip("-n", host.netns, "link", "set", host.device, "up")
                _ip("-n", host.netns, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as err:
            self.close()
            raise RuntimeError(f"cannot build the namespaces: {err.stderr.strip()}") from err

    def close(self) -> None:
        for host in (self.gpu, self.obs):
            try:
                for pid in host.pids():  # only processes this test started live in its namespaces
                    os.kill(pid, 9)
            except (subprocess.CalledProcessError, ProcessLookupError):
                pass
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)


def two_pcs_or_skip() -> TwoPcs:
    """TwoPcs, or skip (fail under CI) with the reason when this machine cannot make namespaces."""
    if shutil.which("ip") is None:
        require("needs the `ip` tool (iproute2) to make network namespaces")
    if os.geteuid() != 0:
        require("needs root to make network namespaces and a veth pair")
    try:
        return TwoPcs()
    except RuntimeError as err:
        require(str(err))
        raise
