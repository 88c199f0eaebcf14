"""Means with a 95% interval over seeds (Student's t), and the curves the report draws."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["band", "cumulative", "mean_ci", "windowed"]

# t(0.975, df) for df = 1..30; beyond that 1.96 is close enough.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def _t(n: int) -> float:
    return _T975[n - 2] if 2 <= n <= 31 else 1.96


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% interval of the mean); the half-width is 0 for one value."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size == 1:
        return float(arr[0]), 0.0
    return float(arr.mean()), _t(arr.size) * float(arr.std(ddof=1)) / math.sqrt(arr.size)


def cumulative(solved: Sequence[bool]) -> npt.NDArray[np.float64]:
    """Success rate over the first *i* tasks, for each *i* (ReasoningBank's Figure 1)."""
    arr = np.asarray(solved, dtype=float)
    return np.cumsum(arr) / np.arange(1, arr.size + 1)


def windowed(solved: Sequence[bool], window: int) -> npt.NDArray[np.float64]:
    """Success rate over the last *window* tasks (shorter at the start)."""
    arr = np.asarray(solved, dtype=float)
    sums = np.cumsum(arr)
    out = np.empty_like(arr)
    for i in range(arr.size):
        lo = i - window
        out[i] = (sums[i] - (sums[lo] if lo >= 0 else 0.0)) / (i - max(lo, -1))
    return out


def band(curves: Sequence[npt.NDArray[np.float64]]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pointwise mean and 95% half-width over seeds."""
    m = np.vstack(curves)
    mean = m.mean(axis=0)
    if m.shape[0] < 2:
        return mean, np.zeros_like(mean)
    return mean, _t(m.shape[0]) * m.std(axis=0, ddof=1) / math.sqrt(m.shape[0])
