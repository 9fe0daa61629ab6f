"""rain_obs_avatar: which source shows the avatar, with what settings, or what is missing."""

from __future__ import annotations

import pytest

from rain_obs_avatar import (
    BROWSER_SOURCE_KIND, NDI_SOURCE_KIND, AvatarUnavailable, avatar_source, url_for_obs
)
from rain_obs_status import DaemonStatus, OutputStatus

NDI = OutputStatus("ndi", "ndi", "running", ndi_name="HOST (RAIN VTuber)", width=512, height=512)
BROWSER = OutputStatus("browser", "browser", "running", url="http://127.0.0.1:9070/", width=512, height=384)
BOTH = DaemonStatus(state="running", outputs=(NDI, BROWSER))
LOCAL = "127.0.0.1"


def test_browser_source_when_obs_has_it_and_the_daemon_serves_the_page() -> None:
    source = avatar_source([BROWSER_SOURCE_KIND, NDI_SOURCE_KIND], BOTH, LOCAL)
    assert source.kind == "browser_source" and source.kind_label == "Browser Source"
    assert source.settings == {
        "is_local_file": False, "url": "http://127.0.0.1:9070/", "width": 512, "height": 384,
        "shutdown": False, "restart_when_active": False,
    }


def test_ndi_source_when_there_is_no_browser_source() -> None:
    source = avatar_source([NDI_SOURCE_KIND], BOTH, LOCAL)
    assert source.kind == "ndi_source" and source.kind_label == "NDI™ Source"
    assert source.settings == {"ndi_source_name": "HOST (RAIN VTuber)", "latency": 0, "ndi_bw_mode": 0}
    only_ndi = DaemonStatus(outputs=(NDI,))
    assert avatar_source([BROWSER_SOURCE_KIND, NDI_SOURCE_KIND], only_ndi, LOCAL).kind == "ndi_source"


def test_a_browser_output_of_unknown_size_keeps_the_sources_size() -> None:
    sizeless = DaemonStatus(outputs=(OutputStatus("browser", "browser", url="http://127.0.0.1:9070/"),))
    settings = avatar_source([BROWSER_SOURCE_KIND], sizeless, LOCAL).settings
    assert "width" not in settings and "height" not in settings


@pytest.mark.parametrize(
    "kinds, outputs, message",
    [
        ([], (NDI, BROWSER), "Cannot add the avatar: OBS has no Browser Source here (Linux builds without CEF) and "
         "DistroAV is not installed: install DistroAV, or run OBS with Browser Source"),
        ([], (NDI,), "Cannot add the avatar: OBS has no Browser Source here (Linux builds without CEF), the daemon "
         "has no browser output and DistroAV is not installed: install DistroAV, or run OBS with Browser Source and "
         "add a `browser` output to the daemon"),
        ([NDI_SOURCE_KIND], (BROWSER,), "Cannot add the avatar: OBS has no Browser Source here (Linux builds "
         "without CEF) and the daemon sends no NDI: add an `ndi` output to the daemon, or run OBS with Browser Source"),
        ([BROWSER_SOURCE_KIND], (NDI,), "Cannot add the avatar: the daemon has no browser output and DistroAV is not "
         "installed: install DistroAV, or add a `browser` output to the daemon"),
    ],
)
def test_what_is_missing_and_how_to_fix_it(kinds, outputs, message) -> None:
    with pytest.raises(AvatarUnavailable) as raised:
        avatar_source(kinds, DaemonStatus(outputs=outputs), LOCAL)
    assert str(raised.value) == message


def test_an_unreachable_daemon_says_so() -> None:
    with pytest.raises(AvatarUnavailable, match="the daemon is not reachable"):
        avatar_source([BROWSER_SOURCE_KIND, NDI_SOURCE_KIND], None, LOCAL)


def test_browser_url_as_obs_on_this_pc_reaches_it() -> None:
    assert url_for_obs("http://127.0.0.1:9070/", LOCAL) == "http://127.0.0.1:9070/"
    assert url_for_obs("http://0.0.0.0:9070/avatar?x=1", LOCAL) == "http://127.0.0.1:9070/avatar?x=1"
    assert url_for_obs("http://127.0.0.1:9070/", "192.168.1.10") == "http://192.168.1.10:9070/"
    assert url_for_obs("http://localhost/", "gpu-pc") == "http://gpu-pc/"
    assert url_for_obs("http://192.168.1.10:9070/", "gpu-pc") == "http://192.168.1.10:9070/"
    remote = avatar_source([BROWSER_SOURCE_KIND], BOTH, "192.168.1.10")
    assert remote.settings["url"] == "http://192.168.1.10:9070/"
