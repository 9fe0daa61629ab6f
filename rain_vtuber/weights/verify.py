"""Does a downloaded release component load as the RAIN architecture? Checked once after download."""

from __future__ import annotations

from pathlib import Path

from rain_vtuber.errors import RainError
from rain_vtuber.weights.sources import Component


def verify_component(component: Component, paths: list[Path]) -> None:
    """Raise RainError naming the file and the problem unless the component loads strictly.

    Checkpoints (.pth): exactly the key/shape set of the release manifest. Folders: the
    diffusers / transformers model loads from it with no missing or mis-shaped weights.
    """
    from rain_vtuber.model.checkpoints import check_state_dict, read_checkpoint
    from rain_vtuber.model.release import from_pretrained_folder

    if paths[0].suffix == ".pth":
        check_state_dict(component.name, read_checkpoint(paths[0]))
        return
    if component.name == "sd_vae_ft_mse":
        from diffusers import AutoencoderKL as kind
    elif component.name == "image_encoder":
        from transformers import CLIPVisionModelWithProjection as kind
    else:
        raise ValueError(f"no verifier for component {component.name}")
    folder = paths[0].parent
    try:
        from_pretrained_folder(kind, folder)
    except (OSError, ValueError, RuntimeError) as err:
        raise RainError(f"{folder} does not load as {kind.__name__}: {err}; delete it and download again") from err
