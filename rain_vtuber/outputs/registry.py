"""The output kinds, one line each, and `open_output`, which builds the output a settings entry names.

Adding an output: one new file with its settings model and Output subclass, one line in OUTPUTS.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from rain_vtuber.outputs.base import FrameRate, Output, OutputSettings
from rain_vtuber.outputs.browser import BrowserOutput
from rain_vtuber.outputs.files import FileOutput
from rain_vtuber.outputs.ndi import NdiOutput
from rain_vtuber.outputs.spout import SpoutOutput
from rain_vtuber.outputs.virtualcam import VirtualCamOutput

OUTPUTS: tuple[type[Output], ...] = (
    NdiOutput,
    FileOutput,
    SpoutOutput,
    VirtualCamOutput,
    BrowserOutput,
)

KINDS: dict[str, type[Output]] = {cls.settings_model.model_fields["kind"].default: cls for cls in OUTPUTS}

OutputEntry = Annotated[Union[tuple(cls.settings_model for cls in OUTPUTS)], Field(discriminator="kind")]  # type: ignore[valid-type]
"""One entry of the daemon config's `outputs:` list: the settings model its `kind` names."""


def open_output(settings: OutputSettings, width: int, height: int, rate: FrameRate) -> Output:
    """The (not yet opened) output `settings` describes, at the output size and rate."""
    return KINDS[settings.kind](settings, width, height, rate)
