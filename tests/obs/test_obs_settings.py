"""rain_obs_settings: the daemon command line and working folder the script's settings make."""

from __future__ import annotations

from pathlib import Path

import pytest

from rain_obs_settings import ScriptSettings, daemon_command, daemon_host, daemon_workdir, split_args


def test_daemon_command_for_python_and_for_the_executable() -> None:
    settings = ScriptSettings(
        executable="/venv/bin/python3", config="/c/daemon.yaml", extra_args='--ndi-name "My Rig"', port=9123, token="t"
    )
    assert daemon_command(settings, lambda _: None) == [
        "/venv/bin/python3", "-m", "rain_vtuber.cli.main", "daemon", "--control-port", "9123",
        "--config", "/c/daemon.yaml", "--token", "t", "--ndi-name", "My Rig",
    ]  # fmt: skip
    on_path = daemon_command(ScriptSettings(), lambda name: f"/usr/bin/{name}")
    assert on_path == ["/usr/bin/rain-vtuber", "daemon", "--control-port", "9050"]
    with pytest.raises(ValueError, match="not on PATH"):
        daemon_command(ScriptSettings(), lambda _: None)


def test_extra_args_split_like_the_users_shell() -> None:
    assert split_args('--ndi-name "My Rig" --fps 24', windows=False) == ["--ndi-name", "My Rig", "--fps", "24"]
    windows = split_args(r'--config "C:\My Rig\s.yaml" --weights C:\w', windows=True)
    assert windows == ["--config", r"C:\My Rig\s.yaml", "--weights", r"C:\w"]


def test_daemon_runs_next_to_its_config_or_in_home(tmp_path) -> None:
    assert daemon_workdir(ScriptSettings(config=str(tmp_path / "stream.yaml"))) == str(tmp_path)
    assert daemon_workdir(ScriptSettings()) == str(Path.home())



def test_the_daemon_is_on_this_pc_unless_another_pc_is_named() -> None:
    assert daemon_host(ScriptSettings()) == "127.0.0.1"
    assert daemon_host(ScriptSettings(host="localhost")) == "127.0.0.1"
    assert daemon_host(ScriptSettings(host=" gpu-pc ")) == "gpu-pc"
