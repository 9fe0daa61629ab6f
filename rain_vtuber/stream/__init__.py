"""The RAIN stream core: the pile of noise levels, reference fusion, noise, device placement, health guard.

Below both the eager engine facade (rain_vtuber.engine) and the compiled backends (rain_vtuber.accel).
"""
