"""Drift metrics between a reference sample and a window of new values (pure numpy).

- ``psi``: the population stability index over 10 bins cut at the reference's deciles
  (categories for strings), ``sum((w - r) * ln(w / r))`` with empty bins floored at 1e-4.
  Rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 a shift.
- ``ks``: the two-sample Kolmogorov-Smirnov statistic, the largest distance between the two
  empirical distribution functions (0 = same, 1 = disjoint).
- ``mean_shift``: the difference of the means in reference standard deviations.

Each returns None when either side has no (finite) values, or for a metric that does not
apply (``ks`` and ``mean_shift`` on categories).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ("psi", "ks", "mean_shift")
DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.2, "mean_shift": 0.5}
BINS = 10
_FLOOR = 1e-4


def numeric(values: Sequence[Any] | np.ndarray) -> np.ndarray | None:
    """Finite floats of ``values``, or None when they are not numbers."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array[np.isfinite(array)]


def psi(reference: np.ndarray, window: np.ndarray) -> float | None:
    if reference.size == 0 or window.size == 0:
        return None
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
    win = np.bincount(np.searchsorted(edges, window, side="right"), minlength=edges.size + 1) / window.size
    return _psi(ref, win)


def psi_categories(reference: Sequence[Any], window: Sequence[Any]) -> float | None:
    ref_values = [v for v in reference if v is not None]
    win_values = [v for v in window if v is not None]
    if not ref_values or not win_values:
        return None
    categories = sorted({*map(str, ref_values), *map(str, win_values)})
    index = {c: i for i, c in enumerate(categories)}
    ref = np.bincount([index[str(v)] for v in ref_values], minlength=len(categories)) / len(ref_values)
    win = np.bincount([index[str(v)] for v in win_values], minlength=len(categories)) / len(win_values)
    return _psi(ref, win)


def _psi(ref: np.ndarray, win: np.ndarray) -> float:
    ref = np.maximum(ref, _FLOOR)
    win = np.maximum(win, _FLOOR)
    return float(np.sum((win - ref) * np.log(win / ref)))


def ks(reference: np.ndarray, window: np.ndarray) -> float | None:
    if reference.size == 0 or window.size == 0:
        return None
    ref, win = np.sort(reference), np.sort(window)
    points = np.concatenate([ref, win])
    cdf_ref = np.searchsorted(ref, points, side="right") / ref.size
    cdf_win = np.searchsorted(win, points, side="right") / win.size
    return float(np.max(np.abs(cdf_ref - cdf_win)))


def mean_shift(reference: np.ndarray, window: np.ndarray) -> float | None:
    if reference.size == 0 or window.size == 0:
        return None
    spread = float(np.std(reference))
    difference = abs(float(np.mean(window)) - float(np.mean(reference)))
    if spread == 0.0 or not math.isfinite(spread):
        return 0.0 if difference == 0.0 else math.inf
    return difference / spread


def score(metric: str, reference: Sequence[Any], window: Sequence[Any]) -> float | None:
    """``metric`` of one feature; None where it cannot be computed."""
    ref, win = numeric(reference), numeric(window)
    if ref is None or win is None:  # categories
        return psi_categories(reference, window) if metric == "psi" else None
    if metric == "psi":
        return psi(ref, win)
    if metric == "ks":
        return ks(ref, win)
    if metric == "mean_shift":
        return mean_shift(ref, win)
    raise ValueError(metric)
