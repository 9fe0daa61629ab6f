"""Where the FaceLandmarker model file (face_landmarker.task) is: a given path, else next to the weights.

Current mediapipe ships no models; `rain-vtuber weights download [--dir DIR]` fetches this one
(3.6 MB) next to the RAIN weights, and --face-model / the source's `face_model` key point at a
local copy. Lookup: that path, $RAIN_VTUBER_FACE_MODEL, the --weights folder, the download cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from rain_vtuber.errors import RainError

FACE_MODEL_NAME = "face_landmarker.task"
FETCH_COMMAND = "rain-vtuber weights download --only face_landmarker"
ENV = "RAIN_VTUBER_FACE_MODEL"


def default_face_model(weights: Path | None = None) -> Path:
    """$RAIN_VTUBER_FACE_MODEL, else the copy in `weights` if there is one, else the download cache's."""
    from rain_vtuber.weights import default_weights_dir

    env = os.environ.get(ENV)
    if env:
        return Path(env)
    if weights is not None and (Path(weights) / FACE_MODEL_NAME).is_file():
        return Path(weights) / FACE_MODEL_NAME
    return default_weights_dir() / FACE_MODEL_NAME


def resolve_face_model(path: Path | None = None, weights: Path | None = None) -> Path:
    """The model file to load; a one-line RainError naming the fetch command when it is missing."""
    model = Path(path) if path is not None else default_face_model(weights)
    if not model.is_file():
        raise RainError(
            f"face model {model} not found: run `{FETCH_COMMAND}` (or pass --face-model PATH to a local copy)"
        )
    return model
