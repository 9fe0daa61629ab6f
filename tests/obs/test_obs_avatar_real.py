""""Add avatar to current scene" in real OBS Studio 29 (headless, Debian: no Browser Source, no DistroAV).

The stand-in daemon reports both a browser and an NDI output. A probe script presses the button
through the script's properties under OBS's real obspython: OBS has neither source kind, so the
status line and the script log must say what is missing and nothing may be created. The probe then
runs the same placing code on a kind this OBS does have (a colour source standing in for the Browser
Source): created once, updated on the second press, added to the scene once, and a source of another
kind under the avatar's name is left alone. obs-websocket shows the result.
"""

from __future__ import annotations

import signal
from pathlib import Path

from obs_runner import REAL_OBS, HeadlessObs, daemon_status, write_probe

SCRIPT = Path(__file__).resolve().parents[2] / "obs_scripts" / "rain_vtuber_obs.py"
MISSING = (
    "Cannot add the avatar: OBS has no Browser Source here (Linux builds without CEF) and DistroAV is not "
    "installed: install DistroAV, or run OBS with Browser Source"
)

pytestmark = REAL_OBS

PROBE = """
from rain_obs_avatar import AvatarSource, AvatarUnavailable

props = rain.script_properties()
pressed = obs.obs_property_button_clicked(obs.obs_properties_get(props, "add_avatar"), None)
obs.obs_properties_destroy(props)
made = obs.obs_get_source_by_name("RAIN VTuber")
report = {"pressed": pressed, "status": obs.obs_data_get_string(rain._script.settings, "status"),
          "kinds": rain.available_source_kinds(), "made": made is not None}
obs.obs_source_release(made)
colour = {"width": 320, "height": 240, "color": 4278255360}
report["scenes"] = [
    rain.place_in_current_scene(AvatarSource("color_source", colour, "a test colour")),
    rain.place_in_current_scene(AvatarSource("color_source", dict(colour, width=256), "a test colour")),
]
try:
    rain.place_in_current_scene(AvatarSource("image_source", {"file": ""}, "an image"))
except AvatarUnavailable as err:
    report["other_kind"] = str(err)
"""


def test_add_avatar_button_without_browser_source_or_distroav(
    tmp_path: Path, headless_obs: HeadlessObs, fake_daemon_exe: Path, port: int
) -> None:
    probe = write_probe(tmp_path / "probe_rain_avatar.py", PROBE)
    settings = {"executable": str(fake_daemon_exe), "port": port, "extra_args": "--outputs ndi,browser"}
    obs = headless_obs.start([(SCRIPT, settings), (probe, {})])
    report = headless_obs.probe_report()
    assert report["pressed"] is True and report["kinds"] == [] and report["made"] is False
    assert report["status"].startswith("running | streaming | alice") and report["status"].endswith(f" | {MISSING}")
    assert f".py] {MISSING}\n" in headless_obs.said()  # the script log (named after the probe that pressed)
    assert report["scenes"] == ["Scene", "Scene"]
    assert report["other_kind"] == (
        "Cannot add the avatar: the existing source 'RAIN VTuber' is of kind color_source, not image_source: "
        "rename or remove it, then press the button again"
    )
    assert daemon_status(port)["outputs"]["browser"]["url"] == "http://127.0.0.1:9070/"
    client = headless_obs.websocket()
    try:
        items = client.get_scene_item_list("Scene").scene_items
        assert [item["sourceName"] for item in items] == ["RAIN VTuber"]
        made = client.get_input_settings("RAIN VTuber")
        assert made.input_kind == "color_source"
        assert made.input_settings == {"width": 256, "height": 240, "color": 4278255360}
    finally:
        client.disconnect()  # a connected client makes OBS wait 5 s for the close handshake on exit
    obs.send_signal(signal.SIGINT)
    obs.wait(30)
    assert "Traceback" not in headless_obs.said(), headless_obs.said()[-3000:]
