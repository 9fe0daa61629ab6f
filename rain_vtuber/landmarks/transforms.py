"""The 13 character parameters -> 17 elementary clique transforms, applied in float64 (spec, golden 5.3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rain_vtuber.landmarks.calibration import ShapeParams


@dataclass(frozen=True)
class Translation:
    """One elementary transform on the clique L[lo:hi] (spec "Per-character transforms").

    axis: clique-relative (i, j) whose direction becomes horizontal while scaling/shifting.
    length: absolute (m, n); shifts are multiplied by |L[m] - L[n]| of the current array.
    """

    lo: int
    hi: int
    axis: tuple[int, int] | None = None
    length: tuple[int, int] | None = None
    hs: float = 1.0
    vs: float = 1.0
    ht: float = 0.0
    vt: float = 0.0


_EYE_R, _EYE_L, _MOUTH, _NOSE = (36, 42), (42, 48), (60, 68), (27, 36)
_EYE_AXIS, _MOUTH_AXIS, _NOSE_AXIS = (0, 3), (0, 4), (4, 8)


def build_translations(p: ShapeParams) -> tuple[Translation, ...]:
    """Expand the named parameters into the spec's 17 steps, in order."""
    eye_h = p.eye_horizontal_correction
    eye_hd = p.eye_horizontal_correction - p.eye_distance_correction
    mouth_h = p.mouth_horizontal_correction
    nose_h = p.nose_horizontal_correction
    return (
        Translation(0, 68, (2, 14), vs=p.face_length_ratio),
        Translation(*_EYE_R, _EYE_AXIS, hs=p.eye_width_ratio, vs=p.eye_height_ratio),
        Translation(*_EYE_L, _EYE_AXIS, hs=p.eye_width_ratio, vs=p.eye_height_ratio),
        Translation(*_MOUTH, _MOUTH_AXIS, hs=p.mouth_width_ratio, vs=p.mouth_height_ratio),
        Translation(*_EYE_R, _EYE_AXIS, (33, 13), ht=eye_hd),
        Translation(*_EYE_L, _EYE_AXIS, (33, 13), ht=eye_h),
        Translation(*_EYE_R, _EYE_AXIS, (33, 3), ht=-eye_h),
        Translation(*_EYE_L, _EYE_AXIS, (33, 3), ht=-eye_hd),
        Translation(*_EYE_R, _EYE_AXIS, (19, 6), vt=p.eye_vertical_correction),
        Translation(*_EYE_L, _EYE_AXIS, (24, 10), vt=p.eye_vertical_correction),
        Translation(*_MOUTH, _MOUTH_AXIS, (33, 13), ht=mouth_h),
        Translation(*_MOUTH, _MOUTH_AXIS, (33, 3), ht=-mouth_h),
        Translation(*_MOUTH, _MOUTH_AXIS, (27, 8), vt=p.mouth_vertical_correction),
        Translation(*_NOSE, _NOSE_AXIS, (27, 8), vt=p.nose_vertical_correction),
        Translation(*_NOSE, _NOSE_AXIS, (22, 16), ht=nose_h),
        Translation(*_NOSE, _NOSE_AXIS, (21, 0), ht=-nose_h),
        Translation(4, 13, (0, 8), hs=p.jaw_width_ratio),
    )


def apply_translations(points: np.ndarray, translations: tuple[Translation, ...]) -> np.ndarray:
    """(..., 68, 2) normalised points -> a transformed float64 copy (steps applied in order, in place)."""
    out = np.array(points, dtype=np.float64, copy=True)
    for t in translations:
        _apply_one(out, t)
    return out


def _apply_one(L: np.ndarray, t: Translation) -> None:
    clique = L[..., t.lo : t.hi, :]
    c = clique.sum(axis=-2, keepdims=True) / (t.hi - t.lo)  # what np.mean computes, without its overhead
    q = clique - c
    qx, qy = q[..., 0], q[..., 1]
    if t.axis is not None:
        a, b = clique[..., t.axis[0], :], clique[..., t.axis[1], :]
        angle = np.arctan2(b[..., 1] - a[..., 1], b[..., 0] - a[..., 0])[..., None]
        cos, sin = np.cos(angle), np.sin(angle)
        ux, uy = qx * cos + qy * sin, -qx * sin + qy * cos
    else:
        ux, uy = qx, qy
    if t.length is not None:
        d = L[..., t.length[0], :] - L[..., t.length[1], :]
        ell = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1])[..., None]
    else:
        ell = 1.0
    ux = ux * t.hs + t.ht * ell
    uy = uy * t.vs + t.vt * ell
    if t.axis is not None:
        ux, uy = ux * cos - uy * sin, ux * sin + uy * cos
    L[..., t.lo : t.hi, 0] = c[..., 0] + ux
    L[..., t.lo : t.hi, 1] = c[..., 1] + uy
