"""The one face representation every source produces, what turns it into 68 points, and what keeps it alive.

The daemon's entry point is FaceDriver (face/driver.py): tracked face + audio mouth + named
expressions + idle life, once per sampled frame, before the landmarks are drawn.
"""

from rain_vtuber.face.driver import FaceDriver
from rain_vtuber.face.expressions import Expression, expression_set
from rain_vtuber.face.idle import IdleOptions
from rain_vtuber.face.mouth import Mouth, MouthMode
from rain_vtuber.face.state import FaceState, TrackingState

__all__ = ["Expression", "FaceDriver", "FaceState", "IdleOptions", "Mouth", "MouthMode", "TrackingState",
           "expression_set"]
