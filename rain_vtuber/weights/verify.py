"""Does a downloaded release component load as the RAIN architecture? Checked once after download."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rain_vtuber.errors import RainError
from rain_vtuber.weights.sources import Component, RemoteFile


def check_digest(remote: RemoteFile, path: Path) -> None:
    """RainError unless `path` has the published size and sha256 of `remote`."""
    size = path.stat().st_size
    if size != remote.size:
        raise RainError(f"{path} has {size} bytes, not the published {remote.size}; delete it and download again")
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != remote.sha256:
        raise RainError(f"{path} is not the published file (sha256 {digest.hexdigest()}); delete it and download again")


def verify_component(component: Component, paths: list[Path]) -> None:
    """Raise RainError naming the file and the problem unless the component loads strictly.

    Files with a published digest (the face model): size and sha256. Checkpoints (.pth):
    exactly the key/shape set of the release manifest. Folders: the diffusers / transformers
    model loads from it with no missing or mis-shaped weights.
    """
    if all(remote.sha256 for remote in component.files):
        for remote, path in zip(component.files, paths):
            check_digest(remote, path)
        return
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
