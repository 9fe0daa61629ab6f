"""The RAIN release weights: where they come from, downloading them, checking they load."""

from rain_vtuber.weights.download import default_weights_dir, download_release
from rain_vtuber.weights.sources import RELEASE, Component, RemoteFile

__all__ = ["RELEASE", "Component", "RemoteFile", "default_weights_dir", "download_release"]
