"""Where each file of the RAIN release comes from: one table, read by the downloader and its messages."""

from __future__ import annotations

import os
from dataclasses import dataclass

HF_DEFAULT_ENDPOINT = "https://huggingface.co"
RAIN_REPO = "Pscgylotti/RAIN-v0.1"
RAIN_REPO_DIR = ""  # the three RAIN checkpoints sit at the top of the hub repo
TAESDV_URL = "https://raw.githubusercontent.com/madebyollin/taesdv/main/taesdv.pth"
VAE_REPO = "stabilityai/sd-vae-ft-mse"
CLIP_REPO = "lambdalabs/sd-image-variations-diffusers"
# MediaPipe's published FaceLandmarker bundle (float16, version 1): face detector, 478-point mesh, blend shapes.
FACE_LANDMARKER_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
FACE_LANDMARKER_SIZE = 3_758_596
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"


@dataclass(frozen=True)
class RemoteFile:
    """One file: the names it may have (first found upstream wins) and its hub repo or plain URL."""

    names: tuple[str, ...]
    repo_id: str | None = None
    repo_dir: str = ""  # folder inside the hub repo
    url: str | None = None  # plain HTTPS file (no hub); its single name is names[0]
    size: int | None = None  # published size and digest, where the file is checked by them
    sha256: str | None = None

    def repo_path(self, name: str) -> str:
        return f"{self.repo_dir}/{name}" if self.repo_dir else name

    def source_url(self, name: str | None = None, endpoint: str | None = None) -> str:
        """Human-readable download URL of `name` (default: the preferred name)."""
        if self.url is not None:
            return self.url
        endpoint = (endpoint or hf_endpoint()).rstrip("/")
        return f"{endpoint}/{self.repo_id}/resolve/main/{self.repo_path(name or self.names[0])}"


@dataclass(frozen=True)
class Component:
    """One loadable part of the release: a checkpoint file or a save_pretrained folder.

    `name` is its manifest / checkpoint name; `folder` is where its files go inside the
    weights folder ("" = the top).
    """

    name: str
    folder: str
    files: tuple[RemoteFile, ...]


def _rain(file: str) -> RemoteFile:
    return RemoteFile((file,), repo_id=RAIN_REPO, repo_dir=RAIN_REPO_DIR)


RELEASE: tuple[Component, ...] = (
    Component("reference_unet", "", (_rain("reference_unet.pth"),)),
    Component("motion_unet", "", (_rain("motion_unet.pth"),)),
    Component("pose_guider", "", (_rain("pose_guider.pth"),)),
    Component("taesdv", "", (RemoteFile(("taesdv.pth",), url=TAESDV_URL),)),
    Component(
        "sd_vae_ft_mse",
        "sd-vae-ft-mse",
        (
            RemoteFile(("config.json",), repo_id=VAE_REPO),
            RemoteFile(("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"), repo_id=VAE_REPO),
        ),
    ),
    Component(
        "image_encoder",
        "image_encoder",
        (
            RemoteFile(("config.json",), repo_id=CLIP_REPO, repo_dir="image_encoder"),
            RemoteFile(("model.safetensors", "pytorch_model.bin"), repo_id=CLIP_REPO, repo_dir="image_encoder"),
        ),
    ),
    Component(
        "face_landmarker",
        "",
        (RemoteFile(("face_landmarker.task",), url=FACE_LANDMARKER_URL, size=FACE_LANDMARKER_SIZE,
                    sha256=FACE_LANDMARKER_SHA256),),
    ),
)


def hf_endpoint() -> str:
    """The hub endpoint, read at call time (HF_ENDPOINT) so mirrors and tests can redirect it."""
    return os.environ.get("HF_ENDPOINT", HF_DEFAULT_ENDPOINT).rstrip("/")
