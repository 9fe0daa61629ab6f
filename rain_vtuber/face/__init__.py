"""The one face representation every source produces, and what turns it into 68 points."""

from rain_vtuber.face.state import FaceState, TrackingState

__all__ = ["FaceState", "TrackingState"]
