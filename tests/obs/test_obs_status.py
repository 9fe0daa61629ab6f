"""rain_obs_status: the daemon's status JSON -> what the script shows and acts on."""

from __future__ import annotations

import json

from rain_obs_status import OutputStatus, format_status, parse_status
from rain_obs_supervisor import ProcState

OLD_STATUS = {  # a daemon from before outputs and expressions
    "state": "streaming",
    "error": None,
    "character": "alice",
    "characters": {"alice": {"state": "ready", "error": None}, "bob": {"state": "fusing", "error": None}},
    "source": {"name": "vmc", "state": "tracking", "error": None},
    "fps_target": 12.0,
    "output_fps": 11.96,
    "latency_ms_p50": 183.4,
    "dropped_frames": 0,
    "ndi": {"name": "HOST (RAIN VTuber)", "width": 128, "height": 128},
    "uptime_s": 4.2,
    "version": "0.1.0",
}
STATUS = dict(
    OLD_STATUS,
    expressions={"available": ["wink_left", "smile", "blush"], "active": ["smile", "blush"]},
    face_driver="idle",
    outputs={
        "ndi": {"kind": "ndi", "state": "running", "name": "HOST (RAIN VTuber)", "width": 512, "height": 512},
        "page": {"kind": "browser", "state": "starting", "url": "http://127.0.0.1:9070/", "width": 512, "height": 384},
        "cam": {"kind": "virtualcam", "state": "running", "width": 512, "height": 512},
    },
)


def test_status_from_an_older_daemon() -> None:
    status = parse_status(json.dumps(OLD_STATUS))
    assert status.characters == ("alice", "bob")
    assert status.outputs == (OutputStatus("ndi", "ndi", ndi_name="HOST (RAIN VTuber)", width=128, height=128),)
    assert status.expressions == () and status.active_expressions == () and status.face_driver == ""
    line = format_status(ProcState.RUNNING, status)
    assert line == "running | streaming | alice | 12.0 fps | 183 ms | face tracking | NDI 'HOST (RAIN VTuber)'"


def test_status_with_expressions_face_driver_and_outputs() -> None:
    status = parse_status(json.dumps(STATUS))
    assert status.expressions == ("wink_left", "smile", "blush")
    assert status.active_expressions == ("smile", "blush")
    assert status.face_driver == "idle"
    assert status.output("browser") == OutputStatus(
        "page", "browser", state="starting", url="http://127.0.0.1:9070/", width=512, height=384
    )
    assert status.output("ndi").ndi_name == "HOST (RAIN VTuber)" and status.output("spout") is None
    assert format_status(ProcState.RUNNING, status) == (
        "running | streaming | alice | 12.0 fps | 183 ms | face tracking | driver idle | expressions smile, blush"
        " | NDI 'HOST (RAIN VTuber)' | browser http://127.0.0.1:9070/ (starting)"
    )


def test_malformed_parts_read_as_empty() -> None:
    text = json.dumps({"state": "running", "expressions": ["smile"], "outputs": [1], "face_driver": None,
                       "ndi": "x", "output_fps": True})
    status = parse_status(text)
    assert (status.expressions, status.outputs, status.face_driver, status.fps) == ((), (), "", None)


def test_status_lines_without_a_status() -> None:
    starting = parse_status(json.dumps({"state": "warming up", "error": "no weights", "characters": {}}))
    assert format_status(ProcState.RUNNING, starting) == "running | warming up | no weights"
    assert parse_status("[1, 2]") is None and parse_status("not json") is None
    assert format_status(ProcState.RUNNING, None) == "running | waiting for the daemon"
    assert format_status(ProcState.WAITING, None, "daemon exited with code 1") == (
        "restarting | daemon exited with code 1"
    )
