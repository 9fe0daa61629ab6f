"""The README keeps step with the code: every daemon config key is in its table, and the status example
has every key /rain/status reports (a new key cannot go undocumented)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from rain_vtuber.daemon.config import DaemonConfig
from rain_vtuber.daemon.daemon import Daemon
from rain_vtuber.daemon.soak import make_demo_characters

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:end]


def test_the_daemon_config_table_lists_every_key_and_only_keys_that_exist() -> None:
    rows = [line for line in _section("### Daemon config").splitlines() if line.startswith("| `")]
    documented = {key for row in rows for key in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert documented == set(DaemonConfig.model_fields), (
        f"undocumented: {sorted(set(DaemonConfig.model_fields) - documented)}; "
        f"no such key: {sorted(documented - set(DaemonConfig.model_fields))}")


def test_the_readme_counts_the_tests_of_each_tier(request: pytest.FixtureRequest) -> None:
    """`slow` (N tests), `e2e` (N tests) and the quick loop's N in "The two commands" are the marks' counts."""
    tiers = getattr(request.config, "rain_tiers", None)
    if tiers is None:
        pytest.skip("counted only when the run collects the whole suite (no file arguments)")
    text = _section("## The two commands")
    counts = {tier: int(n) for tier, n in re.findall(r"- `(slow|e2e)` \((\d+) tests\)", text)}
    counts["quick"] = int(re.search(r"the other (\d+) tests", text).group(1))
    assert counts == tiers, f"README says {counts}, the marks say {tiers}"


def test_the_status_example_shows_every_key_the_daemon_reports(tmp_path: Path) -> None:
    characters, calibration = make_demo_characters(tmp_path, {"alice": (240, 240, 240)})
    config = DaemonConfig(characters_dir=characters, calibration_dir=calibration, character="alice",
                          log_file=None, state_file=tmp_path / "state.json")
    reported = set(Daemon(config, threading.Event()).status())  # outputs open only on start
    example = _section("`/rain/status` example")
    shown = set(re.findall(r'^  "(\w+)":', example, flags=re.M))
    assert shown == reported, f"missing from the README: {sorted(reported - shown)}; gone: {sorted(shown - reported)}"
