"""Face points -> the 26-dot anime landmark image RAIN is conditioned on, per character calibration."""

from rain_vtuber.landmarks.calibration import (
    Calibration,
    load_calibration,
    reload_calibration,
    save_calibration,
)
from rain_vtuber.landmarks.render import PoseRenderer

__all__ = ["Calibration", "PoseRenderer", "load_calibration", "reload_calibration", "save_calibration"]
