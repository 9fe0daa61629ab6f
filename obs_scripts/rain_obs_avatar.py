"""Which OBS source shows the avatar, from what OBS has and what the daemon sends.

The "Add avatar to current scene" button prefers a Browser Source on the daemon's `browser`
output (a page with the avatar on a transparent background; no plugin needed where OBS ships
Browser Source), then DistroAV's NDI source on the daemon's NDI output. Where neither can work it
says what is missing and how to fix it. Standard library only and free of `obspython`: the OBS script
says which source kinds OBS has and creates the source this module describes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Collection, Dict, List, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from rain_obs_status import DaemonStatus

AVATAR_SOURCE_NAME = "RAIN VTuber"
BROWSER_SOURCE_KIND = "browser_source"  # obs-browser (CEF); missing from Linux builds without CEF
NDI_SOURCE_KIND = "ndi_source"  # DistroAV
SOURCE_KINDS = (BROWSER_SOURCE_KIND, NDI_SOURCE_KIND)
NDI_LATENCY_NORMAL = 0  # DistroAV's `latency`: 0 Normal, 1 Low, 2 Lowest; only Normal receives alpha
NDI_BANDWIDTH_HIGHEST = 0  # DistroAV's `ndi_bw_mode`

SettingValue = Union[str, int, bool]


class AvatarUnavailable(Exception):
    """No source can show the avatar here; the message says what is missing and what to do."""


@dataclass(frozen=True)
class AvatarSource:
    """An OBS input to create (or update) under AVATAR_SOURCE_NAME: its kind and settings."""

    kind: str
    settings: Dict[str, SettingValue]
    shows: str  # for the log: what the source shows

    @property
    def kind_label(self) -> str:
        """The kind as OBS's Sources menu names it."""
        return {BROWSER_SOURCE_KIND: "Browser Source", NDI_SOURCE_KIND: "NDI™ Source"}.get(self.kind, self.kind)


def _is_host(host: str, test: str) -> bool:
    try:
        return bool(getattr(ipaddress.ip_address(host), test))
    except ValueError:
        return test == "is_loopback" and host == "localhost"


def url_for_obs(url: str, daemon_host: str) -> str:
    """The browser output's URL as OBS on this PC reaches it.

    A daemon listening on every address (0.0.0.0) or, on another PC, naming its own loopback
    address is reached at the address the script controls it by.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    remote = not _is_host(daemon_host, "is_loopback")
    if not (_is_host(host, "is_unspecified") or (remote and _is_host(host, "is_loopback"))):
        return url
    netloc = daemon_host if parts.port is None else f"{daemon_host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _joined(items: List[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def avatar_source(kinds: Collection[str], status: Optional[DaemonStatus], daemon_host: str) -> AvatarSource:
    """The source that shows the avatar: `kinds` are the SOURCE_KINDS this OBS has, `status` the daemon's
    latest (None: unreachable), `daemon_host` where the script reaches the daemon.

    Raises AvatarUnavailable with a message for the user when nothing can show it.
    """
    if status is None:
        raise AvatarUnavailable(
            "Cannot add the avatar: the daemon is not reachable, so the script cannot tell what it sends. "
            "Start it (Start daemon) or check Daemon PC and Control port, then press the button again"
        )
    browser, ndi = status.output("browser"), status.output("ndi")
    has_browser, has_ndi = BROWSER_SOURCE_KIND in kinds, NDI_SOURCE_KIND in kinds
    if has_browser and browser is not None and browser.url:
        url = url_for_obs(browser.url, daemon_host)
        settings: Dict[str, SettingValue] = {
            "is_local_file": False,
            "url": url,
            "shutdown": False,  # "Shutdown source when not visible": the page would reconnect on every switch
            "restart_when_active": False,  # "Refresh browser when scene becomes active"
        }
        if browser.width > 0 and browser.height > 0:  # else OBS's size stays (a reused source's own)
            settings.update(width=browser.width, height=browser.height)
        return AvatarSource(BROWSER_SOURCE_KIND, settings, f"the daemon's browser output {url}")
    if has_ndi and ndi is not None and ndi.ndi_name:
        settings = {
            "ndi_source_name": ndi.ndi_name,
            "latency": NDI_LATENCY_NORMAL,
            "ndi_bw_mode": NDI_BANDWIDTH_HIGHEST,
        }
        return AvatarSource(NDI_SOURCE_KIND, settings, f"the daemon's NDI output '{ndi.ndi_name}'")
    raise AvatarUnavailable(_missing(has_browser, bool(browser and browser.url), has_ndi, bool(ndi and ndi.ndi_name)))


def _missing(has_browser: bool, sends_browser: bool, has_ndi: bool, sends_ndi: bool) -> str:
    """What stands in the way of both ways to show the avatar, and the fix for each."""
    checks = (  # (way, in place, what is wrong, the fix)
        ("browser", has_browser, "OBS has no Browser Source here (Linux builds without CEF)", "run OBS with Browser Source"),
        ("browser", sends_browser, "the daemon has no browser output", "add a `browser` output to the daemon"),
        ("ndi", has_ndi, "DistroAV is not installed", "install DistroAV"),
        ("ndi", sends_ndi, "the daemon sends no NDI", "add an `ndi` output to the daemon"),
    )
    problems = [problem for _, ok, problem, _ in checks if not ok]
    fixes = ", or ".join(_joined([fix for w, ok, _, fix in checks if w == way and not ok], "and") for way in ("ndi", "browser"))
    return f"Cannot add the avatar: {_joined(problems, 'and')}: {fixes}"
