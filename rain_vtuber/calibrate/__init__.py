"""`rain-vtuber calibrate`: create a character and tune its calibration in a local web page.

    from rain_vtuber.calibrate import CalibrateRequest, character_files, start
    running = start(CalibrateRequest(character_files(None, "alice"), image=Path("alice.png")))  # None: where the daemon looks
    print(running.url); ...; running.stop()
"""

from rain_vtuber.calibrate.app import CalibrateRequest, PreviewOptions, Running, serve, start, write_without_ui
from rain_vtuber.calibrate.character import CharacterFiles, character_files

__all__ = [
    "CalibrateRequest",
    "CharacterFiles",
    "PreviewOptions",
    "Running",
    "character_files",
    "serve",
    "start",
    "write_without_ui",
]
