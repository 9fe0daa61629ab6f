"""Optional live RAIN preview for the calibration page: only with a CUDA GPU and local weights.

Everything heavy (torch, the engine) is imported here and only when a preview is asked for, so the
calibration page works on any machine; without a GPU the page just says why there is no preview.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from rain_vtuber.face.state import FaceState
from rain_vtuber.landmarks import Calibration, PoseRenderer

log = logging.getLogger(__name__)

_IDLE_STOP_S = 5.0
"""The engine loop pauses when the page stops asking for preview frames (tab closed)."""


class NoPreview:
    """Stands in when no preview can run; `reason` is shown on the page."""

    available = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def update(self, calib: Calibration, face: FaceState | None) -> None:
        """Nothing to update."""

    def latest_jpeg(self) -> bytes | None:
        return None

    def stop(self) -> None:
        """Nothing to stop."""


class RainPreview:
    """Runs the engine on its own thread with the page's latest calibration and face."""

    available = True
    reason = ""

    def __init__(self, engine: object, reference: np.ndarray, calib: Calibration) -> None:
        self._engine = engine
        self._engine.set_reference(self._engine.fuse_reference(reference))  # type: ignore[attr-defined]
        size = engine.height, engine.width  # type: ignore[attr-defined]
        self._renderer = PoseRenderer(calib, *size, auto_fit=False)  # the session does the fitting
        self._calib, self._face = calib, None
        self._jpeg: bytes | None = None
        self._asked = time.monotonic()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="calibrate-preview", daemon=True)
        self._thread.start()

    def update(self, calib: Calibration, face: FaceState | None) -> None:
        with self._lock:
            self._calib, self._face, self._asked = calib, face, time.monotonic()

    def latest_jpeg(self) -> bytes | None:
        with self._lock:
            return self._jpeg

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        errors = 0
        while not self._stop.is_set():
            with self._lock:
                calib, face, idle = self._calib, self._face, time.monotonic() - self._asked > _IDLE_STOP_S
            if idle:
                self._stop.wait(0.1)
                continue
            try:
                if self._renderer.calibration != calib:
                    self._renderer.set_calibration(calib)
                self._engine.push(self._renderer.render(face))  # type: ignore[attr-defined]
                frame = None
                while (out := self._engine.pull()) is not None:  # type: ignore[attr-defined]
                    frame = out
                if frame is not None:
                    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]))
                    with self._lock:
                        self._jpeg = data.tobytes() if ok else self._jpeg
            except Exception:  # the preview must never take the page down
                errors += 1
                if errors in (1, 10, 100) or errors % 1000 == 0:
                    log.exception("live preview failed (%d times)", errors)
                self._stop.wait(0.5)


def start_preview(
    weights: Path | None, config: Path | None, device: str, dtype: str, reference: np.ndarray, calib: Calibration
) -> RainPreview | NoPreview:
    """A running preview when a GPU and weights are there, else NoPreview saying why.

    weights None: the download cache (`rain-vtuber weights download`).
    """
    try:
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            return NoPreview("no CUDA GPU found (the preview needs one; calibration works without it)")
        from rain_vtuber.engine import RainEngine
        from rain_vtuber.weights import default_weights_dir

        weights = Path(weights) if weights is not None else default_weights_dir()
        if not weights.is_dir():
            return NoPreview(f"weights folder {weights} not found; run `rain-vtuber weights download` or pass --weights")

        engine = RainEngine.load(weights, config, device=device, dtype=dtype)
        return RainPreview(engine, reference, calib)
    except Exception as err:  # any load problem only disables the preview
        log.warning("live preview disabled: %s", err)
        return NoPreview(f"the RAIN engine did not start: {err}")
