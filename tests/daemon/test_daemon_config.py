"""DaemonConfig: defaults, YAML files, CLI overrides and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from rain_vtuber.daemon.config import DaemonConfig, load_config
from rain_vtuber.errors import RainError


def test_defaults_need_nothing_configured() -> None:
    cfg = load_config(None)
    assert (cfg.character, cfg.source.kind, cfg.source.camera, cfg.output_size, cfg.model_size) == (
        "default", "webcam", 0, 512, None)
    assert (cfg.dtype, cfg.device, cfg.fps, cfg.control_port, cfg.token) == ("auto", "auto", None, 9050, None)
    assert [(o.kind, o.label) for o in cfg.outputs] == [("ndi", "ndi"), ("browser", "browser")]
    assert cfg.outputs[0].ndi_name == "RAIN VTuber" and (cfg.outputs[1].host, cfg.outputs[1].port) == ("127.0.0.1", 9070)
    assert cfg.log_file is not None and cfg.log_file.name == "daemon.log"
    assert cfg.latency == "standard" and cfg.with_overrides(latency="low").latency == "low"


def test_yaml_file_with_relative_paths_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    path.write_text(
        "weights: w\ncharacters_dir: chars\nsource: {kind: video, path: clip.mp4, loop: true}\n"
        "background_key: '#00ff00'\nfps: 24\n"
    )
    cfg = load_config(path)
    assert cfg.weights == tmp_path / "w" and cfg.characters_dir == tmp_path / "chars"
    assert cfg.source.path == tmp_path / "clip.mp4" and cfg.source.loop
    assert cfg.key_colour() == (0, 255, 0) and cfg.fps == 24
    over = cfg.with_overrides(fps=None, control_port=9123, source={"kind": "vmc", "port": 39540})
    assert over.fps == 24 and over.control_port == 9123
    assert (over.source.kind, over.source.listen_port) == ("vmc", 39540)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fsp: 30\n", "unknown key 'fsp'; allowed keys here: weights, engine_config,"),
        ("control_port: 70000\n", "'control_port' = 70000: Input should be less than or equal to 65535; "
                                   "allowed: a number from 1 to 65535"),
        ("background_key: green\n", "background_key: must be none, reference or #RRGGBB, got 'green'"),
        ("latency: turbo\n", "'latency' = 'turbo': Input should be 'standard' or 'low'; allowed: standard, low"),
        ("source: {kind: video}\n", "source: source kind 'video' needs a path"),
        ("source: {kind: vmc, camera: 1}\n", "source: camera does not apply to source kind 'vmc', which takes: "
                                              "host, lost_after_s, port"),
        ("source: {kind: webcam, camra: 1}\n", "unknown key 'source.camra'; allowed keys here: kind, camera,"),
        ("outputs: [{kind: nope}]\n", "does not match any of the expected tags: 'ndi', 'file', 'spout', 'virtualcam'"),
        ("outputs: [{kind: ndi, port: 9}]\n", "unknown key 'outputs.0.ndi.port'; allowed keys here: kind, name, "
                                              "ndi_name, format"),
        ("outputs: [{kind: ndi}, {kind: ndi}]\n", "two outputs are named ndi: give each a different `name`"),
        ("ndi_name: x\noutputs: [{kind: file, path: a.mp4}]\n", "ndi_name set, but `outputs` has no ndi entry"),
        ("model_size: 500\n", "'model_size' = 500: Input should be a multiple of 64"),
        ("[1, 2]\n", "expected a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_files_name_the_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RainError, match=r"bad\.yaml") as err:
        load_config(path)
    assert message in str(err.value)


def test_stream_health_is_on_unless_the_file_says_off(tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    assert load_config(None).stream_health is True
    for text, expected in (("stream_health: off\n", False), ("stream_health: on\n", True), ("stream_health: 'off'\n", False)):
        path.write_text(text)
        assert load_config(path).stream_health is expected, text
    path.write_text("stream_health: sometimes\n")
    with pytest.raises(RainError, match="'stream_health' = 'sometimes': Input should be a valid boolean"):
        load_config(path)


def test_missing_file_and_bad_override(tmp_path: Path) -> None:
    with pytest.raises(RainError, match="daemon config not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(RainError, match="command line: invalid daemon config: 'output_size' = 3"):
        DaemonConfig().with_overrides(resolution=3)


def test_cli_source_flags_merge_into_the_configured_source() -> None:
    from rain_vtuber.cli.common import source_flags
    from rain_vtuber.cli.daemon import _source
    from rain_vtuber.sources import SourceConfig

    base = SourceConfig(kind="vmc", port=39540, lost_after_s=2.0)
    assert _source(None, source_flags(None, None, None, None, []), base) is None
    same = DaemonConfig().with_overrides(source=_source("vmc", source_flags(None, None, 39541, None, ["lost_after_s=1.5"]), base))
    assert (same.source.port, same.source.lost_after_s) == (39541, 1.5)
    other = DaemonConfig().with_overrides(source=_source("webcam", source_flags(2, None, None, None, []), base))
    assert (other.source.kind, other.source.camera, other.source.port, other.source.lost_after_s) == ("webcam", 2, None, 0.5)
    with pytest.raises(RainError, match="--source-opt expects KEY=VALUE"):
        source_flags(None, None, None, None, ["port"])
    with pytest.raises(RainError, match="source: screen region width and height must be > 0"):
        DaemonConfig().with_overrides(source=_source("screen", source_flags(None, None, None, None, ["region=[0, 0, 0, 10]"]), base))


def test_control_host_defaults_to_loopback_and_an_empty_token_is_no_token(tmp_path: Path) -> None:
    assert load_config(None).control_host == "127.0.0.1"
    path = tmp_path / "lan.yaml"
    path.write_text("control_host: 192.168.1.10\ntoken: s3cret\n")
    assert (load_config(path).control_host, load_config(path).token) == ("192.168.1.10", "s3cret")
    path.write_text("control_host: 0.0.0.0\ntoken: ''\n")
    with pytest.raises(RainError, match="'token' = '': String should have at least 1 character"):
        load_config(path)


def test_old_keys_still_work_resolution_with_a_deprecation_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("resolution: 256\nndi_name: Studio\nndi_format: bgrx\n")
    cfg = load_config(path)
    assert cfg.output_size == 256 and cfg.model_size is None  # it always meant the output size
    assert [(o.kind, o.ndi_name, o.format) for o in cfg.outputs if o.kind == "ndi"] == [("ndi", "Studio", "bgrx")]
    assert any("`resolution` is deprecated" in r.getMessage() and "output_size" in r.getMessage() for r in caplog.records)
    over = cfg.with_overrides(resolution=320, ndi_name="Desk")  # the CLI's old spellings win like any flag
    assert over.output_size == 320 and over.outputs[0].ndi_name == "Desk" and over.outputs[0].format == "bgrx"
    path.write_text("resolution: 256\noutput_size: 300\n")
    with pytest.raises(RainError, match="give the output size once"):
        load_config(path)


def test_outputs_are_a_list_keyed_on_kind_and_a_served_output_gets_the_token(tmp_path: Path) -> None:
    path = tmp_path / "out.yaml"
    path.write_text("token: s3cret\noutputs:\n  - {kind: ndi, ndi_name: Desk}\n  - {kind: file, path: rec.mp4}\n"
                    "  - {kind: file, name: frames, path: frames}\n")
    cfg = load_config(path)
    assert [o.label for o in cfg.outputs] == ["ndi", "file", "frames"]
    assert cfg.outputs[1].path == tmp_path / "rec.mp4"  # relative to the config file, like every path
    assert all("token" not in type(o).model_fields for o in cfg.output_settings())  # none of these is served


def test_a_browser_output_gets_the_daemon_token_unless_its_entry_has_one(tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    path.write_text("token: s3cret\noutputs: [{kind: browser, host: 0.0.0.0}, {kind: browser, name: own, port: 9071, "
                    "token: mine}, {kind: ndi}]\n")
    shared, own, ndi = load_config(path).output_settings()
    assert (shared.kind, shared.host, shared.port, shared.token) == ("browser", "0.0.0.0", 9070, "s3cret")
    assert (own.label, own.port, own.token) == ("own", 9071, "mine") and ndi.kind == "ndi"
    path.write_text("outputs: [{kind: browser, prot: 9071}]\n")
    with pytest.raises(RainError, match="prot"):
        load_config(path)
