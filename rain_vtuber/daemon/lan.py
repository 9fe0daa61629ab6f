"""This PC's LAN addresses and the ports another device uses: what `doctor` tells a phone or a second PC.

Addresses from the standard library: interface addresses via SIOCGIFADDR on Linux, the host name's addresses
(all interfaces on Windows), and the address of the default route.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Iterator, NamedTuple

from rain_vtuber.daemon.control import DEFAULT_CONTROL_PORT
from rain_vtuber.outputs.browser import BROWSER_PORT
from rain_vtuber.sources import IFACIALMOCAP_PORT, VMC_PORT

SIOCGIFADDR = 0x8915  # Linux


class Port(NamedTuple):
    """One port another device connects to (or this PC listens on)."""

    number: str
    protocol: str
    who: str


# what a firewall on this (daemon) PC must let in; NDI's from docs.ndi.video "NDI Related Network Ports"
PORTS = (
    Port(str(IFACIALMOCAP_PORT), "UDP", "iFacialMocap (iPhone) face data in"),
    Port(str(VMC_PORT), "UDP", "VMC face data in (VSeeFace, Waidayo, ... on another PC)"),
    Port(str(DEFAULT_CONTROL_PORT), "UDP", "control from OBS / Stream Deck on another PC (needs --control-host and --token)"),
    Port(str(BROWSER_PORT), "TCP", "browser output page for OBS on another PC (needs its host and a token)"),
    Port("5353", "UDP", "NDI discovery (mDNS)"),
    Port("5960", "TCP", "NDI: lists this PC's sources to a PC that added its address"),
    Port("5961+", "TCP", "NDI video, one port per stream/connection"),
    Port("5960+", "UDP", "NDI video over reliable UDP (NDI 5+)"),
)


def _interface_addresses() -> Iterator[str]:
    try:
        import fcntl  # not on Windows: there the host name lists every interface's address

        names = [name for _, name in socket.if_nameindex()]
    except (ImportError, OSError):
        return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for name in names:
            try:
                packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
            except OSError:  # no IPv4 address, or not Linux
                continue
            yield socket.inet_ntoa(packed[20:24])


def _default_route_address() -> Iterator[str]:
    """The source address for a route out (connecting a UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never used, only routed
            yield sock.getsockname()[0]
        except OSError:
            return


def _hostname_addresses() -> Iterator[str]:
    try:
        yield from (info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        return


def lan_addresses() -> list[str]:
    """IPv4 addresses other devices can reach this PC at, the default route's first (no loopback, no link-local)."""
    found: list[str] = []
    for address in (*_default_route_address(), *_interface_addresses(), *_hostname_addresses()):
        ip = ipaddress.IPv4Address(address)
        if address not in found and not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
            found.append(address)
    return found
