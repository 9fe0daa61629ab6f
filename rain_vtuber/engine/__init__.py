"""The RAIN stream engine: load the release, fuse references, stream pose images into frames."""

from rain_vtuber.engine.engine import RainEngine
from rain_vtuber.stream.noise import NoiseSource, ReplayNoise, SeededNoise
from rain_vtuber.stream.reference import ReferenceStates

__all__ = ["RainEngine", "ReferenceStates", "NoiseSource", "SeededNoise", "ReplayNoise"]
