"""rain-vtuber: real-time RAIN diffusion VTuber.

Data flow: sources -> face (FaceState) -> landmarks (26-dot pose image) -> engine
(RAIN stream) -> outputs (NDI); the daemon wires them and the CLI sits on top.
"""

__version__ = "0.1.0"
