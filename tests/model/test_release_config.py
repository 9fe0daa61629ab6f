"""The release config (upstream rain_morpher.yaml schema): a number that does not parse names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rain_vtuber.errors import RainError
from rain_vtuber.model.config import PACKAGED_CONFIG, RainConfig


@pytest.mark.parametrize("key, value, message", [
    ("height", "512px", "height must be an integer, got '512px'"),
    ("seed", 1.5, "seed must be an integer, got 1.5"),
    ("temporal_window_size", True, "temporal_window_size must be an integer, got True"),
    ("guidance_scale", "strong", "guidance_scale must be a number, got 'strong'"),
    ("num_inference_steps", None, "num_inference_steps must be an integer, got None"),
])
def test_a_number_that_does_not_parse_is_one_line_naming_the_key(tmp_path: Path, key: str, value: object,
                                                                  message: str) -> None:
    raw = yaml.safe_load(PACKAGED_CONFIG.read_text())
    raw[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RainError) as err:
        RainConfig.load(path)
    assert str(err.value) == f"{path}: {message}"


def test_whole_floats_and_numeric_strings_still_read_as_numbers(tmp_path: Path) -> None:
    raw = yaml.safe_load(PACKAGED_CONFIG.read_text())
    raw.update(height=512.0, width="512", guidance_scale="3.5")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = RainConfig.load(path)
    assert (cfg.height, cfg.width, cfg.guidance_scale) == (512, 512, 3.5)
