"""Per-frame cost of FaceState -> pose image (framing, expressions, filter, transforms, dots).

    python -m rain_vtuber.landmarks.bench          # or: rain-vtuber pose --bench
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from rain_vtuber.face.neutral import NEUTRAL_FACE
from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks.calibration import Calibration
from rain_vtuber.landmarks.render import PoseRenderer


@dataclass(frozen=True)
class BenchResult:
    frames: int
    height: int
    width: int
    mean_ms: float  # wall clock
    p95_ms: float  # wall clock
    cpu_ms: float  # CPU time of the rendering thread: the cost itself, even on a busy machine

    def __str__(self) -> str:
        return (
            f"pose render {self.width}x{self.height}: {self.cpu_ms:.3f} ms/frame CPU, wall {self.mean_ms:.3f} ms mean, "
            f"{self.p95_ms:.3f} ms p95 over {self.frames} frames (1 thread)"
        )


def benchmark_render(frames: int = 2000, height: int = 512, width: int = 512, seed: int = 0) -> BenchResult:
    """Time PoseRenderer.render on a jittering, blinking, talking face at 30 fps with every stage on."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(seed)
    renderer = PoseRenderer(Calibration(), height, width)
    faces = []
    for i in range(frames):
        points = NEUTRAL_FACE + rng.normal(0.0, 0.002, (68, 2)) + [0.03 * np.sin(i / 20), 0.0]
        points[60:68, 1] += np.where(np.arange(8) >= 5, 0.02 * (1 + np.sin(i / 7)), 0.0)
        faces.append(FaceState(points, np.ones(68, bool), timestamp_ns=i * 33_333_333))
    for face in faces[:50]:  # warm-up
        renderer.render(face)
    times = np.empty(frames)
    cpu_start = time.thread_time()
    for i, face in enumerate(faces):
        start = time.perf_counter()
        renderer.render(face)
        times[i] = time.perf_counter() - start
    cpu_ms = (time.thread_time() - cpu_start) / frames * 1e3
    return BenchResult(frames, height, width, float(times.mean() * 1e3), float(np.percentile(times, 95) * 1e3), cpu_ms)


