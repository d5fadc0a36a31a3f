"""Drift between two batches: ``compare`` from statistics (their histograms), ``compare_tables``
exactly from raw data. Both score every numeric feature with PSI and a Kolmogorov-Smirnov statistic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.stats.statistics import (
    PSI_EPSILON,
    Statistics,
    _as_float,
    _check_bins,
    _decoded,
    _json_float,
    _kind,
)


def compare(a: Statistics, b: Statistics, bins: int = 10) -> dict[str, dict[str, Any]]:
    """Drift of each numeric feature from ``a`` (the reference) to ``b``, from statistics alone.

    Statistics keep no raw data, so both scores read each side's distribution off its histogram,
    assuming values spread evenly within a bin (a piecewise-linear CDF; a constant feature is a
    step). ``ks`` is the largest gap between the two CDFs (exact for that model: the gap peaks at
    a bin edge), so it is approximate at the scale of one bin width. ``psi`` is the population
    stability index over ``bins`` quantile bins of ``a`` (outer bins open to +-infinity, so mass of
    ``b`` outside ``a``'s range counts), with empty bins floored at 1e-4. Rules of thumb: PSI < 0.1
    stable, 0.1-0.25 moderate drift, > 0.25 major drift. Use :func:`compare_tables` when the raw
    data is at hand.

    Returns:
        ``{feature: {"psi", "ks", "mean_a", "mean_b", "stddev_a", "stddev_b", "null_fraction_a",
        "null_fraction_b"}}`` for every feature numeric on both sides; ``psi``/``ks`` are ``None``
        when either side has no finite values.
    """
    _check_bins(bins)
    out: dict[str, dict[str, Any]] = {}
    for name, fa in a.features.items():
        fb = b.features.get(name)
        if fb is None or not (_is_numeric_entry(fa) and _is_numeric_entry(fb)):
            continue
        entry = _summary(fa, fb)
        ha, hb = fa.get("histogram"), fb.get("histogram")
        if ha and hb and sum(ha["counts"]) and sum(hb["counts"]):
            cdf_a, cdf_b = _HistogramCdf(ha), _HistogramCdf(hb)
            points = np.union1d(cdf_a.edges, cdf_b.edges)
            gaps = [np.abs(cdf_a(points, left) - cdf_b(points, left)) for left in (False, True)]
            interior = np.unique(cdf_a.inverse(np.arange(1, bins) / bins))
            entry["ks"] = float(max(gap.max() for gap in gaps))
            entry["psi"] = _psi(_masses(cdf_a(interior)), _masses(cdf_b(interior)))
        out[name] = entry
    return out


def compare_tables(a: pa.Table, b: pa.Table, bins: int = 10, exclude: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Exact drift of each numeric column shared by ``a`` (the reference) and ``b``.

    ``ks`` is the two-sample Kolmogorov-Smirnov statistic of the finite values (the largest gap
    between the empirical CDFs, as ``scipy.stats.ks_2samp`` reports it); ``psi`` is computed over
    ``bins`` quantile bins of ``a`` (linear-interpolated quantiles; outer bins open), empty bins
    floored at 1e-4. Same result keys as :func:`compare`.
    """
    _check_bins(bins)
    out: dict[str, dict[str, Any]] = {}
    skip = {exclude} if isinstance(exclude, str) else set(exclude)
    for name in a.column_names:
        if name in skip or name not in b.column_names:
            continue
        ca, cb = _decoded(a.column(name)), _decoded(b.column(name))
        if _kind(ca.type) != "numeric" or _kind(cb.type) != "numeric":
            continue
        xa, xb = np.sort(_finite(ca)), np.sort(_finite(cb))
        fa = {"count": len(ca) - ca.null_count, "null_count": ca.null_count}
        fb = {"count": len(cb) - cb.null_count, "null_count": cb.null_count}
        with np.errstate(all="ignore"):
            for side, x in ((fa, xa), (fb, xb)):
                side["mean"] = _json_float(x.mean()) if len(x) else None
                side["stddev"] = _json_float(x.std(ddof=1)) if len(x) > 1 else None
        entry = _summary(fa, fb)
        if len(xa) and len(xb):
            points = np.concatenate([xa, xb])
            ecdf_a = np.searchsorted(xa, points, side="right") / len(xa)
            ecdf_b = np.searchsorted(xb, points, side="right") / len(xb)
            interior = np.unique(np.quantile(xa, np.arange(1, bins) / bins))
            below_a = np.searchsorted(xa, interior, side="right") / len(xa)
            below_b = np.searchsorted(xb, interior, side="right") / len(xb)
            entry["ks"] = float(np.abs(ecdf_a - ecdf_b).max())
            entry["psi"] = _psi(_masses(below_a), _masses(below_b))
        out[name] = entry
    return out


def _is_numeric_entry(entry: Mapping[str, Any]) -> bool:
    return entry.get("nan_count") is not None  # set for numeric features only


def _summary(fa: Mapping[str, Any], fb: Mapping[str, Any]) -> dict[str, Any]:
    def null_fraction(f: Mapping[str, Any]) -> float | None:
        rows = (f.get("count") or 0) + (f.get("null_count") or 0)
        return (f.get("null_count") or 0) / rows if rows else None

    return {
        "psi": None,
        "ks": None,
        "mean_a": fa.get("mean"),
        "mean_b": fb.get("mean"),
        "stddev_a": fa.get("stddev"),
        "stddev_b": fb.get("stddev"),
        "null_fraction_a": null_fraction(fa),
        "null_fraction_b": null_fraction(fb),
    }


def _finite(column: pa.ChunkedArray) -> np.ndarray:
    values = _as_float(pc.drop_null(column) if column.null_count else column)
    return values[np.isfinite(values)]


def _masses(cdf_at_edges: np.ndarray) -> np.ndarray:
    """Bin masses of (-inf, e1], (e1, e2], ..., (ek, inf) from the CDF at the interior edges."""
    return np.diff(np.concatenate([[0.0], np.asarray(cdf_at_edges, dtype=np.float64), [1.0]]))


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected, PSI_EPSILON)
    f = np.maximum(actual, PSI_EPSILON)
    return float(max(0.0, np.sum((f - e) * np.log(f / e))))


class _HistogramCdf:
    """The CDF of a histogram, values spread evenly inside each bin (a step for one point)."""

    def __init__(self, histogram: Mapping[str, Sequence[float]]) -> None:
        self.edges = np.asarray(histogram["edges"], dtype=np.float64)
        counts = np.asarray(histogram["counts"], dtype=np.float64)
        self.cum = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        self.point = bool(self.edges[0] == self.edges[-1])

    def __call__(self, x: np.ndarray, left: bool = False) -> np.ndarray:
        """F(x), or its left limit F(x-) when ``left``."""
        x = np.asarray(x, dtype=np.float64)
        if self.point:
            v = self.edges[0]
            return ((x > v) if left else (x >= v)).astype(np.float64)
        return np.interp(x, self.edges, self.cum, left=0.0, right=1.0)

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """The smallest x with F(x) >= p (flat stretches from empty bins are skipped)."""
        if self.point:
            return np.full(len(p), self.edges[0])
        cum, first = np.unique(self.cum, return_index=True)
        return np.interp(p, cum, self.edges[first])
