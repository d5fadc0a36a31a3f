"""Pairwise moments of numeric features, mergeable and subtractable (Chan et al.'s parallel
algorithm), from which a summary reads every feature's mean and standard deviation and the
pairwise-complete Pearson correlations.

For each pair (i, j) over the rows where both are finite: ``n[i, j]`` rows, ``mean[i, j]`` the
mean of feature i, ``m2[i, j]`` the sum of squared deviations of i, ``c[i, j]`` the co-moment
(sum of products of deviations). The diagonal is each feature's own count, mean and M2 over its
finite values. Merging two sets of rows (Chan, Golub and LeVeque 1979; Pébay 2008)::

    n = na + nb;  d = mean_b - mean_a;  mean = mean_a + d * nb / n
    m2 = m2_a + m2_b + d^2 * na * nb / n;  c = c_a + c_b + d_i * d_j * na * nb / n

and subtracting is the same equation solved for one side, so both are exact up to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from lakebox.errors import ValidationError
from lakebox.stats.statistics import _as_float

_BLOCK_ROWS = 1 << 17
_PARTS = ("n", "mean", "m2", "c")
LOSSY = 1e-4  # what is left of M2 after a subtraction of spread rows, relative to before, below
# which the rounding of the subtraction can show in the 6th digit of a stddev or correlation


class CoMoments:
    """Pairwise count, means, M2 and co-moments of the numeric features ``names``."""

    __slots__ = ("c", "lossy", "m2", "mean", "n", "names")

    def __init__(self, names: Sequence[str], n: np.ndarray, mean: np.ndarray, m2: np.ndarray, c: np.ndarray) -> None:
        self.names = list(names)
        self.n, self.mean, self.m2, self.c = n, mean, m2, c
        self.lossy: list[str] = []  # set by ``subtract``

    @classmethod
    def empty(cls, names: Sequence[str]) -> CoMoments:
        k = len(names)
        return cls(names, *(np.zeros((k, k)) for _ in _PARTS))

    @classmethod
    def of(cls, columns: Mapping[str, pa.ChunkedArray]) -> CoMoments:
        """The moments of the numeric ``columns`` (all of one table), in blocks of rows."""
        names = list(columns)
        k = len(names)
        out = cls.empty(names)
        if not k:
            return out
        rows = len(columns[names[0]])
        for start in range(0, rows, _BLOCK_ROWS):
            size = min(_BLOCK_ROWS, rows - start)
            x = np.empty((k, size))
            for j, name in enumerate(names):
                x[j] = _as_float(columns[name].slice(start, size))
            out = out.merge(_block(names, x))
        return out

    def index(self, name: str) -> int:
        return self.names.index(name)

    def aligned(self, names: Sequence[str]) -> CoMoments:
        """The same moments over ``names`` (a superset): new features have no rows."""
        if list(names) == self.names:
            return self
        k = len(names)
        where = [names.index(name) for name in self.names]
        parts = []
        for part in (self.n, self.mean, self.m2, self.c):
            grown = np.zeros((k, k))
            grown[np.ix_(where, where)] = part
            parts.append(grown)
        return CoMoments(names, *parts)

    def merge(self, other: CoMoments) -> CoMoments:
        names = self.names + [name for name in other.names if name not in self.names]
        a, b = self.aligned(names), other.aligned(names)
        n = a.n + b.n
        with np.errstate(all="ignore"):
            weight = np.where(n > 0, a.n * b.n / np.where(n > 0, n, 1.0), 0.0)
            d = b.mean - a.mean
            mean = np.where(n > 0, a.mean + d * np.where(n > 0, b.n / np.where(n > 0, n, 1.0), 0.0), 0.0)
            m2 = a.m2 + b.m2 + d * d * weight
            c = a.c + b.c + d * d.T * weight
        return CoMoments(names, n, mean, m2, c)

    def subtract(self, removed: CoMoments) -> tuple[CoMoments, bool]:
        """The moments without the ``removed`` rows, and whether they were consistent (a part
        of these rows: never more rows than there are). Exact up to rounding; ``lossy`` names
        the features whose remaining spread is so small next to what was removed that the
        subtraction cancelled most of its digits (see ``LOSSY``)."""
        names = self.names + [name for name in removed.names if name not in self.names]
        t, r = self.aligned(names), removed.aligned(names)
        n = t.n - r.n
        consistent = bool((n >= 0).all())
        n = np.maximum(n, 0.0)
        with np.errstate(all="ignore"):
            safe = np.where(n > 0, n, 1.0)
            mean = np.where(n > 0, (t.n * t.mean - r.n * r.mean) / safe, 0.0)
            d = r.mean - mean
            weight = np.where(n > 0, n * r.n / np.where(t.n > 0, t.n, 1.0), 0.0)
            m2 = np.where(n > 0, np.maximum(t.m2 - r.m2 - d * d * weight, 0.0), 0.0)
            c = np.where(n > 0, t.c - r.c - d * d.T * weight, 0.0)
        out = CoMoments(names, n, mean, m2, c)
        # M2 left after subtracting is a difference of large numbers when the rows removed
        # spread much wider than the rows kept: below LOSSY of what it was, its last digits
        # (and the co-moments') are rounding, so stddev and correlations are flagged approximate.
        # Also when a single row is removed (its own M2 is 0): the difference is then in the
        # d * d * weight term and in the mean, e.g. removing 1.0 from {1.0, 3.6e-44} leaves a
        # mean of 0.0, so a later row 0.0 would look constant (found by test_stats_merge).
        with np.errstate(all="ignore"):  # pairwise: m2[i, j] is i's M2 over rows where j is set too
            bad = (n > 0) & (r.n > 0) & (m2 < LOSSY * t.m2)
        involved = bad.any(axis=0) | bad.any(axis=1)
        out.lossy = [name for i, name in enumerate(names) if involved[i]]
        return out, consistent

    def feature(self, name: str) -> tuple[int, float, float]:
        """(count, mean, M2) of one feature's finite values."""
        i = self.index(name)
        return int(round(self.n[i, i])), float(self.mean[i, i]), float(self.m2[i, i])

    def correlations(self, names: Sequence[str]) -> dict[str, dict[str, float | None]]:
        """Pearson coefficients between ``names`` (pairwise-complete), diagonal 1.0, ``None``
        where a feature is constant over the rows of the pair (as ``compute_statistics``)."""
        if not names:
            return {}
        where = [self.index(name) for name in names]
        n, mean, m2, c = (part[np.ix_(where, where)] for part in (self.n, self.mean, self.m2, self.c))
        with np.errstate(all="ignore"):
            var_x, var_y = m2, m2.T
            r = c / np.sqrt(var_x * var_y)
            scale = n * mean * mean
            ok = (n >= 2) & (var_x > 1e-12 * scale) & (var_y > 1e-12 * scale.T) & (var_x > 0) & (var_y > 0)
            ok &= np.isfinite(r)
        r = np.clip(np.nan_to_num(r), -1.0, 1.0)
        np.fill_diagonal(r, 1.0)
        return {a: {b: (float(r[i, j]) if ok[i, j] else None) for j, b in enumerate(names)} for i, a in enumerate(names)}

    def to_json(self) -> dict[str, Any]:
        return {"names": self.names, **{part: getattr(self, part).tolist() for part in _PARTS}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CoMoments:
        names = list(data["names"])
        k = len(names)
        parts = [np.asarray(data[part], dtype=np.float64).reshape(k, k) for part in _PARTS]
        if any(not np.isfinite(p).all() for p in parts):
            raise ValidationError("A statistics summary holds non-finite moments; recompute the statistics.")
        return cls(names, *parts)


def _block(names: list[str], x: np.ndarray) -> CoMoments:
    """Moments of one block of rows ``x`` (features x rows, NaN where not finite)."""
    k, size = x.shape
    valid = np.isfinite(x)
    if valid.all():
        return _dense_block(names, x)
    v = valid.astype(np.float64)
    with np.errstate(all="ignore"):
        count = v.sum(axis=1)
        centre = np.where(count > 0, np.where(valid, x, 0.0).sum(axis=1) / np.where(count > 0, count, 1.0), 0.0)
        z = np.where(valid, x - centre[:, None], 0.0)
        spread = np.sqrt((z * z).sum(axis=1) / np.where(count > 0, count, 1.0))
        spread = np.where((spread > 0) & np.isfinite(spread), spread, 1.0)
        z /= spread[:, None]  # scaled: squares neither overflow nor vanish
        n = v @ v.T
        s = z @ v.T  # s[i, j]: sum of z_i over rows where j is finite too
        q = (z * z) @ v.T
        p = z @ z.T
        safe = np.where(n > 0, n, 1.0)
        mean_z = np.where(n > 0, s / safe, 0.0)
        m2 = np.maximum(q - s * mean_z, 0.0) * (spread * spread)[:, None]
        c = (p - s * mean_z.T) * np.outer(spread, spread)
        mean = np.where(n > 0, centre[:, None] + mean_z * spread[:, None], 0.0)
    return CoMoments(names, n, mean, m2, np.where(n > 0, c, 0.0))


def _dense_block(names: list[str], x: np.ndarray) -> CoMoments:
    """``_block`` when every value is finite: every pair shares all rows (the common case)."""
    k, size = x.shape
    with np.errstate(all="ignore"):
        centre = x.mean(axis=1)
        z = x - centre[:, None]
        spread = np.sqrt(np.einsum("ij,ij->i", z, z) / size)
        spread = np.where((spread > 0) & np.isfinite(spread), spread, 1.0)
        z /= spread[:, None]
        s = z.sum(axis=1)
        q = np.einsum("ij,ij->i", z, z)
        p = z @ z.T
        m2 = np.maximum(q - s * s / size, 0.0) * spread * spread
        c = (p - np.outer(s, s) / size) * np.outer(spread, spread)
        mean = centre + s / size * spread
    n = np.full((k, k), float(size))
    return CoMoments(names, n, np.repeat(mean[:, None], k, axis=1), np.repeat(m2[:, None], k, axis=1), c)
