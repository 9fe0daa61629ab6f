"""The long-running `rain-vtuber daemon`: face -> RAIN -> NDI, controlled over OSC (127.0.0.1 unless control_host).

Clients only need `send_command` (kept light: no torch, no NDI imported).
"""

from rain_vtuber.daemon.control import send_command

__all__ = ["send_command"]
