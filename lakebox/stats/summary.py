"""Mergeable statistics: ``summarize(batch)`` costs O(rows given), and a group's running summary
follows its commits with ``merge`` (rows added) and ``subtract`` (rows replaced or deleted).

What each part of ``Summary.statistics()`` is, against ``compute_statistics`` over the same rows:

- exact, also after any merge and subtract: ``count``, ``null_count``, ``nan_count``,
  ``inf_count``, the row count, booleans (``mean``, ``top``, ``distinct``, ``min``, ``max``),
  ``mean``/``stddev`` and the correlations (count/mean/M2/co-moments merged with Chan's parallel
  algorithm: exact up to floating-point rounding), and the histogram counts (``DyadicHistogram``:
  bins ``[k 2^e, (k+1) 2^e)`` that merge and subtract without re-binning error; their edges are
  aligned to powers of two instead of spanning exactly [min, max]).
- sketches, within a stated error from the first batch on: ``distinct`` (HyperLogLog, 1.6%
  relative standard error; exact for a string feature with at most 100 distinct values and for
  booleans), ``quantiles`` (KLL, rank error ``KLL_RANK_ERROR`` ~1.3%; exactly interpolated while
  a feature has fewer than about 200 values), ``top`` of strings (exact up to 100 distinct values).
- after a subtraction: ``min``/``max`` stay exact unless a removed value equalled them,
  ``distinct``, ``quantiles`` (and ``top`` beyond 100 distinct strings) cannot forget values, so
  they become approximate: ``Summary.exact`` turns False and ``Summary.approximate`` names them.
  The quantile sketch then still holds ``stale`` removed values: its rank error is at most
  ``KLL_RANK_ERROR + stale / finite``. ``compute_statistics`` (``fg.compute_statistics()``)
  recomputes exactly and starts a fresh exact summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from lakebox.errors import NotFoundError, ValidationError
from lakebox.stats.features import FeatureSummary
from lakebox.stats.moments import CoMoments
from lakebox.stats.sketches import hash_parts, hll_many, string_hash_id
from lakebox.stats.statistics import (
    DEFAULT_QUANTILES,
    Statistics,
    _check_bins,
    _check_quantiles,
    _decoded,
    _kind,
    _value_type,
)
from lakebox.types import type_name_or_raw

__all__ = ["FORMAT", "Summary", "summarize"]

FORMAT = 1
_WORKERS = 2
# which part of a summary's hash id (sketches.hash_parts) hashed the values of each kind
_HASH_PART = {
    "string": lambda hash_id: hash_parts(hash_id)[0],
    "binary": lambda hash_id: hash_parts(hash_id)[0],
    "numeric": lambda hash_id: hash_parts(hash_id)[1],
    "temporal": lambda hash_id: hash_parts(hash_id)[1],
}
_BATCHED_HLL_ROWS = 50_000  # up to this, one DuckDB query hashes every feature (see hll_many)


class Summary:
    """A bounded, mergeable summary of some rows of a feature group (see the module docstring).

    Example:
        >>> import pyarrow as pa
        >>> s = summarize(pa.table({"x": [1.0, 2.0]})).merge(summarize(pa.table({"x": [3.0]})))
        >>> s.statistics()["x"]["mean"], s.exact
        (2.0, True)
    """

    __slots__ = ("features", "hash_id", "moments", "row_count")

    def __init__(
        self, row_count: int, features: dict[str, FeatureSummary], moments: CoMoments, hash_id: str | None = None
    ) -> None:
        self.row_count = row_count
        self.features = features
        self.moments = moments
        self.hash_id = hash_id if hash_id is not None else string_hash_id()

    @classmethod
    def empty(cls) -> Summary:
        """The summary of no rows (the identity of :meth:`merge`)."""
        return cls(0, {}, CoMoments.empty([]))

    # -- algebra ----------------------------------------------------------------------
    def merge(self, other: Summary) -> Summary:
        """The summary of both sets of rows (associative and commutative). A feature missing on
        one side counts as nulls there (a column added to the group later)."""
        names = list(self.features) + [name for name in other.features if name not in self.features]
        features: dict[str, FeatureSummary] = {}
        for name in names:
            a, b = self.features.get(name), other.features.get(name)
            a = a if a is not None else FeatureSummary.nulls(b, self.row_count)  # type: ignore[arg-type]
            b = b if b is not None else FeatureSummary.nulls(a, other.row_count)
            features[name] = a.merge(b)
            if (
                a.count
                and b.count
                and a.kind in _HASH_PART
                and _HASH_PART[a.kind](self.hash_id) != _HASH_PART[a.kind](other.hash_id)
            ):
                features[name].approximate.add("distinct")  # different hash functions: registers differ
        return Summary(
            self.row_count + other.row_count,
            features,
            self.moments.merge(other.moments),
            min(self.hash_id, other.hash_id),
        )

    def subtract(self, removed: Summary) -> Summary:
        """The summary without ``removed``, rows that were part of these (replaced or deleted by
        a commit). Exact where the parts allow it; the others are marked approximate."""
        features: dict[str, FeatureSummary] = {}
        for name, mine in self.features.items():
            gone = removed.features.get(name)
            features[name] = mine.subtract(gone if gone is not None else FeatureSummary.nulls(mine, removed.row_count))
        moments, consistent = self.moments.subtract(removed.moments)
        if not consistent:
            for feature in features.values():
                if feature.kind == "numeric":
                    feature.approximate |= {"mean", "stddev"}
        for name in moments.lossy:  # cancellation: recompute (fg.compute_statistics) for exact values
            if name in features:
                features[name].approximate |= {"stddev", "correlations"}
        unknown = [name for name in removed.features if name not in self.features]
        if unknown:
            raise ValidationError(
                f"Cannot subtract rows with features {unknown} that these statistics never had; recompute the "
                "statistics with fg.compute_statistics()."
            )
        return Summary(max(self.row_count - removed.row_count, 0), features, moments, self.hash_id)

    def forget(self, rows: int) -> Summary:
        """The summary after ``rows`` of its rows were replaced or deleted without being read
        (reading them would have cost far more than the commit: ``write/statistics.py``). The
        row count stays exact; every part derived from values still counts theirs and is
        marked approximate until ``fg.compute_statistics()`` recomputes the statistics."""
        if rows <= 0:
            return self
        features = {name: feature.forget(rows) for name, feature in self.features.items()}
        return Summary(max(self.row_count - rows, 0), features, self.moments, self.hash_id)

    # -- exactness --------------------------------------------------------------------
    @property
    def approximate(self) -> dict[str, list[str]]:
        """``{feature: [field, ...]}``: the fields a subtraction left stale (empty when exact)."""
        out = {name: sorted(f.reported_approximate) for name, f in self.features.items()}
        return {name: parts for name, parts in out.items() if parts}

    @property
    def exact(self) -> bool:
        """True when every field is exact, or (``distinct``, ``quantiles``, ``top``) within the
        stated error of its sketch; False once an update or delete left a part stale."""
        return not self.approximate

    # -- output -----------------------------------------------------------------------
    def statistics(self, bins: int = 20, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> Statistics:
        """The statistics of the summarised rows, in ``compute_statistics``' shape."""
        _check_bins(bins)
        probabilities = _check_quantiles(quantiles)
        features: dict[str, dict[str, Any]] = {}
        for name, feature in self.features.items():
            if feature.kind == "numeric" and name in self.moments.names:
                _, mean, m2 = self.moments.feature(name)
            else:
                mean, m2 = None, 0.0
            features[name] = feature.entry(bins, probabilities, mean, m2)
        correlated = [
            name for name, f in self.features.items() if f.kind == "numeric" and f.finite and name in self.moments.names
        ]
        approximate = self.approximate
        return Statistics(
            row_count=self.row_count,
            features=features,
            correlations=self.moments.correlations(correlated),
            exact=not approximate,
            approximate=approximate,
        )

    def __getitem__(self, feature: str) -> FeatureSummary:
        try:
            return self.features[feature]
        except KeyError:
            raise NotFoundError(f"No summary of feature {feature!r} (have {sorted(self.features)}).") from None

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (a few KB per feature, independent of the number of rows)."""
        return {
            "format": FORMAT,
            "row_count": self.row_count,
            "hash": self.hash_id,
            "features": {name: f.to_json() for name, f in self.features.items()},
            "moments": self.moments.to_json(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ValidationError(
                f"Not a lakebox statistics summary of format {FORMAT} (got {got!r}); recompute the statistics with "
                "fg.compute_statistics()."
            )
        try:
            features = {str(name): FeatureSummary.from_json(f) for name, f in data["features"].items()}
            return cls(int(data["row_count"]), features, CoMoments.from_json(data["moments"]), str(data["hash"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"A statistics summary is damaged ({e!r}); recompute the statistics.") from e

    def __repr__(self) -> str:
        state = "exact" if self.exact else f"approximate: {self.approximate}"
        return f"Summary({self.row_count} rows, {len(self.features)} features, {state})"


def summarize(table: pa.Table, exclude: Sequence[str] = ()) -> Summary:
    """The summary of ``table``'s rows, in O(rows) time and O(features^2) space.

    Args:
        table: the rows (any Arrow types; unsupported ones get counts only).
        exclude: columns to leave out entirely.
    """
    if isinstance(exclude, str):
        exclude = [exclude]
    missing = [name for name in exclude if name not in table.column_names]
    if missing:
        raise NotFoundError(f"Cannot exclude {missing}: no such columns (have {table.column_names}).")
    names = [name for name in table.column_names if name not in set(exclude)]
    columns = {name: _decoded(table.column(name)) for name in names}
    kinds = {name: _kind(column.type) for name, column in columns.items()}
    types = {name: type_name_or_raw(_value_type(table.schema.field(name).type)) for name in names}
    numeric = {name: columns[name] for name in names if kinds[name] == "numeric"}
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        moments = pool.submit(CoMoments.of, numeric)
        batched = table.num_rows <= _BATCHED_HLL_ROWS  # small: one hashing query for every feature
        summaries = pool.map(
            lambda name: FeatureSummary.of(kinds[name], types[name], columns[name], defer_hll=batched), names
        )
        features = dict(zip(names, summaries, strict=True))
        hashed = [f for f in features.values() if f.hll_input is not None]
        for feature, sketch in zip(hashed, hll_many([f.hll_input for f in hashed]), strict=True):
            feature.hll, feature.hll_input = sketch, None
        return Summary(table.num_rows, features, moments.result())
