"""Percentiles as every status and benchmark reports them: rounded to 0.1, None without samples."""

from __future__ import annotations

from typing import Iterable

import numpy as np


def percentile(values: Iterable[float], q: float) -> float | None:
    """q-th percentile of `values` rounded to 0.1; None when there are none."""
    data = np.fromiter(values, dtype=np.float64)
    return round(float(np.percentile(data, q)), 1) if data.size else None


def p50_p95(values: Iterable[float]) -> dict[str, float | None]:
    """{"p50": ..., "p95": ...} of `values` (None without samples)."""
    data = list(values)
    return {"p50": percentile(data, 50), "p95": percentile(data, 95)}
