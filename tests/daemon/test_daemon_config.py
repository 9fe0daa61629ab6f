"""DaemonConfig: defaults, YAML files, CLI overrides and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from rain_vtuber.daemon.config import DaemonConfig, load_config
from rain_vtuber.errors import RainError


def test_defaults_need_nothing_configured() -> None:
    cfg = load_config(None)
    assert (cfg.character, cfg.source.kind, cfg.source.camera, cfg.resolution) == ("default", "webcam", 0, 512)
    assert (cfg.dtype, cfg.device, cfg.ndi_name, cfg.fps, cfg.control_port, cfg.token) == (
        "auto", "auto", "RAIN VTuber", None, 9050, None,
    )
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
        ("fsp: 30\n", "fsp: Extra inputs are not permitted"),
        ("control_port: 70000\n", "control_port: Input should be less than or equal to 65535 (got 70000)"),
        ("background_key: green\n", "background_key: Value error, must be none, reference or #RRGGBB"),
        ("latency: turbo\n", "latency: Input should be 'standard' or 'low' (got 'turbo')"),
        ("source: {kind: video}\n", "source: Value error, source kind 'video' needs a path"),
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
    with pytest.raises(RainError, match="stream_health: Input should be a valid boolean"):
        load_config(path)


def test_missing_file_and_bad_override(tmp_path: Path) -> None:
    with pytest.raises(RainError, match="daemon config not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(RainError, match="command line: invalid daemon config: resolution"):
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
    with pytest.raises(RainError, match="source: Value error, screen region width and height must be > 0"):
        DaemonConfig().with_overrides(source=_source("screen", source_flags(None, None, None, None, ["region=[0, 0, 0, 10]"]), base))


def test_control_host_defaults_to_loopback_and_an_empty_token_is_no_token(tmp_path: Path) -> None:
    assert load_config(None).control_host == "127.0.0.1"
    path = tmp_path / "lan.yaml"
    path.write_text("control_host: 192.168.1.10\ntoken: s3cret\n")
    assert (load_config(path).control_host, load_config(path).token) == ("192.168.1.10", "s3cret")
    path.write_text("control_host: 0.0.0.0\ntoken: ''\n")
    with pytest.raises(RainError, match="token: String should have at least 1 character"):
        load_config(path)


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
