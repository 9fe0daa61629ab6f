"""Where finished frames go: the NDI sender that OBS (DistroAV) receives."""

from rain_vtuber.outputs.ndi import NdiSender, background_colour

__all__ = ["NdiSender", "background_colour"]
