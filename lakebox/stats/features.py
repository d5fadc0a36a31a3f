"""The summary of one feature: counts plus the mergeable parts its kind needs (see ``summary``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import ValidationError
from lakebox.stats.sketches import (
    DyadicHistogram,
    Hll,
    Top,
    hll_of,
    kll_from_json,
    kll_merge,
    kll_new,
    kll_quantiles,
    kll_to_json,
)
from lakebox.stats.statistics import FEATURE_KEYS, TOP_VALUES, _iso

KINDS = ("numeric", "boolean", "string", "temporal", "binary", "nested")
_HASHED = ("numeric", "string", "temporal", "binary")
# the fields of each kind's entry that values removed unseen leave stale (FeatureSummary.forget),
# besides count and null_count, which every kind has
_FORGOTTEN = {
    "numeric": {"distinct", "min", "max", "mean", "stddev", "quantiles", "histogram", "correlations"},
    "boolean": {"distinct", "top", "min", "max", "mean"},
    "string": {"distinct", "top", "min", "max"},
    "temporal": {"distinct", "min", "max"},
    "binary": {"distinct"},
}


@dataclass
class FeatureSummary:
    """What a summary keeps of one feature. Fields that do not apply to its kind stay empty.

    ``min``/``max`` are ints for integer and temporal features (temporal: in ``unit`` since the
    epoch, or days for dates), floats for other numbers, strings for strings. ``approximate``
    names the parts a subtraction could not update; ``stale`` counts removed values the
    quantile sketch still holds.
    """

    kind: str
    type: str
    count: int = 0
    null_count: int = 0
    nan_count: int = 0
    inf_count: int = 0
    trues: int = 0
    integer: bool = False
    unit: str | None = None  # temporal: "date" or a timestamp unit
    tz: str | None = None
    min: Any = None
    max: Any = None
    hll: Hll | None = None
    kll: Any = None  # datasketches.kll_doubles_sketch of the finite values
    histogram: DyadicHistogram | None = None
    top: Top | None = None
    stale: int = 0
    approximate: set[str] = field(default_factory=set)
    # ``of(..., defer_hll=True)`` leaves the distinct-count sketch to the caller, who hashes
    # ``hll_input`` of many features in one query (``sketches.hll_many``)
    defer_hll: bool = field(default=False, repr=False, compare=False)
    hll_input: Any = field(default=None, repr=False, compare=False)

    @property
    def reported_approximate(self) -> set[str]:
        """The fields of :meth:`entry` that are stale (a complete ``top`` counts distinct exactly)."""
        parts = set(self.approximate)
        if self.kind == "string" and self.top is not None and self.top.complete and "top" not in parts:
            parts.discard("distinct")
        return parts

    @property
    def finite(self) -> int:
        return self.count - self.nan_count - self.inf_count if self.kind == "numeric" else 0

    # -- building ---------------------------------------------------------------------
    @classmethod
    def of(cls, kind: str, type_name: str, column: pa.ChunkedArray, defer_hll: bool = False) -> FeatureSummary:
        """The summary of one decoded column (see ``compute._decoded``); with ``defer_hll``
        its ``hll`` is left empty and what it must hash is in ``hll_input``."""
        s = cls(kind, type_name, count=len(column) - column.null_count, null_count=column.null_count,
                defer_hll=defer_hll)
        if kind in _HASHED:
            s.hll = Hll()
        if kind == "numeric":
            s.kll = kll_new(np.zeros(0))
            s._numeric(column)
        elif kind == "boolean":
            s.trues = int(pc.sum(column).as_py() or 0)
        elif kind == "string":
            s.top, distinct = Top.of(column)
            s._hash(distinct)  # hashing each distinct value once is enough
            s._min_max(column)
        elif kind == "temporal":
            dtype = column.type
            s.unit = "date" if pa.types.is_date32(dtype) else ("ms" if pa.types.is_date64(dtype) else dtype.unit)
            s.tz = getattr(dtype, "tz", None)
            ints = column.cast(pa.int32() if pa.types.is_date32(dtype) else pa.int64())
            ints = pc.drop_null(ints) if column.null_count else ints
            values = ints.to_numpy()
            s._hash(values)
            if len(values):
                s.min, s.max = int(values.min()), int(values.max())
        elif kind == "binary":
            s._hash(column)
        return s

    def _hash(self, values: Any) -> None:
        if self.defer_hll:
            self.hll_input = values
        else:
            self.hll = hll_of(values)

    def _numeric(self, column: pa.ChunkedArray) -> None:
        if column.null_count:
            column = pc.drop_null(column)
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64(), safe=False)
        raw = column.to_numpy()
        self._hash(raw)
        self.integer = raw.dtype.kind in "iu"
        if self.integer:
            if len(raw):
                self.min, self.max = int(raw.min()), int(raw.max())
            values = raw.astype(np.float64)
        else:
            values = raw.astype(np.float64, copy=False)
            finite = np.isfinite(values)
            if not finite.all():
                self.nan_count = int(np.isnan(values).sum())
                self.inf_count = int(len(values) - finite.sum()) - self.nan_count
                values = values[finite]
            values = values + 0.0  # -0.0 becomes 0.0: merges must not depend on order
            if len(values):
                self.min, self.max = float(values.min()), float(values.max())
        self.kll = kll_new(values)
        self.histogram = DyadicHistogram.of(values)

    def _min_max(self, column: pa.ChunkedArray) -> None:
        if self.count:
            bounds = pc.min_max(column)
            self.min, self.max = bounds["min"].as_py(), bounds["max"].as_py()

    @classmethod
    def nulls(cls, like: FeatureSummary, rows: int) -> FeatureSummary:
        """A feature of ``like``'s kind with ``rows`` nulls (absent from one side of a merge)."""
        s = cls(like.kind, like.type, null_count=rows, integer=like.integer, unit=like.unit, tz=like.tz)
        if like.kind in _HASHED:
            s.hll = Hll()
        if like.kind == "numeric":
            s.kll = kll_new(np.zeros(0))
        if like.kind == "string":
            s.top = Top({}, True)
        return s

    # -- algebra ----------------------------------------------------------------------
    def merge(self, other: FeatureSummary) -> FeatureSummary:
        if self.kind != other.kind:
            raise ValidationError(
                f"Cannot merge statistics of a {self.kind} feature with a {other.kind} one; recompute the "
                "statistics with fg.compute_statistics()."
            )
        out = replace(
            self,
            type=max(self.type, other.type),
            count=self.count + other.count,
            null_count=self.null_count + other.null_count,
            nan_count=self.nan_count + other.nan_count,
            inf_count=self.inf_count + other.inf_count,
            trues=self.trues + other.trues,
            integer=self.integer and other.integer,
            stale=self.stale + other.stale,
            approximate=(self.approximate | other.approximate) - {"min", "max"},
        )
        out.min, approx_min = _bound(self, other, "min", min)
        out.max, approx_max = _bound(self, other, "max", max)
        out.approximate |= {"min"} if approx_min else set()
        out.approximate |= {"max"} if approx_max else set()
        if self.hll is not None and other.hll is not None:
            out.hll = self.hll.merge(other.hll)
        if self.kll is not None and other.kll is not None:
            out.kll = kll_merge(self.kll, other.kll)
        out.histogram = _merge_optional(self.histogram, other.histogram)
        if self.top is not None and other.top is not None:
            out.top = self.top.merge(other.top)
        return out

    def subtract(self, removed: FeatureSummary) -> FeatureSummary:
        """Self without ``removed`` (rows that were part of it). Counts, booleans, histograms and
        a complete ``top`` subtract exactly; min/max stay exact unless a removed value reached
        them; the distinct and quantile sketches keep the removed values (marked approximate)."""
        if self.kind != removed.kind:
            raise ValidationError(
                f"Cannot subtract statistics of a {removed.kind} feature from a {self.kind} one; recompute the "
                "statistics with fg.compute_statistics()."
            )
        out = replace(self, approximate=set(self.approximate))
        for name in ("count", "null_count", "nan_count", "inf_count", "trues"):
            left = getattr(self, name) - getattr(removed, name)
            if left < 0:
                out.approximate.add("count")
            setattr(out, name, max(left, 0))
        if out.count == 0:  # nothing left: every part is exactly empty again
            empty = FeatureSummary.nulls(self, out.null_count)
            empty.approximate = out.approximate & {"count"}
            return empty
        if removed.count:
            if removed.min is not None and self.min is not None and not removed.min > self.min:
                out.approximate.add("min")
            if removed.max is not None and self.max is not None and not removed.max < self.max:
                out.approximate.add("max")
            if self.hll is not None:
                out.approximate.add("distinct")
        if removed.finite:
            out.stale = self.stale + removed.finite
            out.approximate.add("quantiles")
        if removed.histogram is not None:
            if self.histogram is None:
                out.approximate.add("histogram")
            else:
                out.histogram, exact = self.histogram.subtract(removed.histogram)
                if not exact:
                    out.approximate.add("histogram")
        if out.finite == 0:
            out.histogram, out.kll, out.stale = None, kll_new(np.zeros(0)), 0
            out.approximate -= {"quantiles", "histogram"}
            if self.kind == "numeric":
                out.min = out.max = None
                out.approximate -= {"min", "max"}
        if self.top is not None and removed.top is not None:
            out.top, exact = self.top.subtract(removed.top)
            if not exact:
                out.approximate.add("top")
            elif "distinct" in out.approximate and out.top.complete:
                out.approximate.discard("distinct")  # a complete top counts distinct values exactly
        return out

    def forget(self, rows: int) -> FeatureSummary:
        """Self after ``rows`` of its rows were removed unseen (``Summary.forget``): every part
        derived from values still holds theirs and is marked approximate; ``stale`` counts them."""
        stale = {"count", "null_count"} | _FORGOTTEN.get(self.kind, set())  # nested: counts only
        return replace(self, approximate=set(self.approximate) | stale, stale=self.stale + rows)

    # -- output -----------------------------------------------------------------------
    def entry(self, bins: int, probabilities: list[float], mean: float | None, m2: float) -> dict[str, Any]:
        """This feature's statistics in ``compute_statistics``' shape (``mean``/``m2``: moments)."""
        entry: dict[str, Any] = dict.fromkeys(FEATURE_KEYS)
        entry.update(type=self.type, count=self.count, null_count=self.null_count)
        distinct = min(round(self.hll.estimate()), self.count) if self.hll is not None and self.count else 0
        if self.kind == "numeric":
            entry.update(nan_count=self.nan_count, inf_count=self.inf_count, distinct=distinct)
            if self.finite:
                n = self.finite
                entry.update(
                    min=self.min,
                    max=self.max,
                    mean=_finite(mean),
                    stddev=_finite(math.sqrt(m2 / (n - 1))) if n > 1 else None,
                    quantiles=kll_quantiles(self.kll, probabilities),
                    histogram=self._histogram(bins),
                )
        elif self.kind == "boolean":
            if not self.count:
                entry.update(distinct=0, top=[])
            else:
                falses = self.count - self.trues
                pairs = sorted([(v, c) for v, c in ((False, falses), (True, self.trues)) if c], key=lambda p: (-p[1], p[0]))
                entry.update(distinct=len(pairs), top=[[v, c] for v, c in pairs], min=falses == 0, max=self.trues > 0,
                             mean=self.trues / self.count)
        elif self.kind == "string":
            assert self.top is not None
            exact_distinct = self.top.complete and "top" not in self.approximate
            entry.update(distinct=len(self.top.counts) if exact_distinct else distinct,
                         top=self.top.most_frequent(TOP_VALUES), min=self.min, max=self.max)
        elif self.kind == "temporal":
            entry.update(distinct=distinct, min=self._temporal(self.min), max=self._temporal(self.max))
        elif self.kind == "binary":
            entry.update(distinct=distinct)
        return entry

    def _histogram(self, bins: int) -> dict[str, list[Any]] | None:
        if self.histogram is None:
            return None
        if self.min is not None and self.min == self.max and not self.approximate & {"min", "max"}:
            return {"edges": [float(self.min), float(self.max)], "counts": [self.finite]}
        return self.histogram.histogram(bins)

    def _temporal(self, value: int | None) -> Any:
        if value is None:
            return None
        if self.unit == "date":
            return _iso(date(1970, 1, 1) + timedelta(days=value))
        dtype = pa.timestamp(self.unit or "us", tz=self.tz)
        return _iso(pa.scalar(value, type=dtype).as_py())

    # -- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "type": self.type, "count": self.count, "null_count": self.null_count}
        for name in ("nan_count", "inf_count", "trues", "stale"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("integer", "unit", "tz", "min", "max"):
            value = getattr(self, name)
            if value is not None and value is not False:  # 0 is a value: keep it
                out[name] = value
        if self.hll is not None:
            out["hll"] = self.hll.to_json()
        if self.kll is not None:
            out["kll"] = kll_to_json(self.kll)
        if self.histogram is not None:
            out["histogram"] = self.histogram.to_json()
        if self.top is not None:
            out["top"] = self.top.to_json()
        if self.approximate:
            out["approximate"] = sorted(self.approximate)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSummary:
        if data.get("kind") not in KINDS:
            raise ValidationError(f"A statistics summary has a feature of unknown kind {data.get('kind')!r}.")
        s = cls(str(data["kind"]), str(data["type"]), count=int(data["count"]), null_count=int(data["null_count"]))
        for name in ("nan_count", "inf_count", "trues", "stale"):
            setattr(s, name, int(data.get(name, 0)))
        s.integer = bool(data.get("integer", False))
        s.unit, s.tz, s.min, s.max = data.get("unit"), data.get("tz"), data.get("min"), data.get("max")
        s.hll = Hll.from_json(data["hll"]) if "hll" in data else None
        s.kll = kll_from_json(data["kll"]) if "kll" in data else None
        s.histogram = DyadicHistogram.from_json(data["histogram"]) if "histogram" in data else None
        s.top = Top.from_json(data["top"]) if "top" in data else None
        s.approximate = set(data.get("approximate", ()))
        return s


def _bound(a: FeatureSummary, b: FeatureSummary, name: str, pick: Any) -> tuple[Any, bool]:
    """min or max of both sides, and whether it is approximate: exact when a side holding the
    winning value is exact (a stale bound only ever lies outside the true one)."""
    va, vb = getattr(a, name), getattr(b, name)
    if va is None or vb is None:
        side = a if vb is None else b
        return getattr(side, name), name in side.approximate
    value = pick(va, vb)
    holders = [s for s, v in ((a, va), (b, vb)) if v == value]
    return value, all(name in s.approximate for s in holders)


def _merge_optional(a: DyadicHistogram | None, b: DyadicHistogram | None) -> DyadicHistogram | None:
    if a is None or b is None:
        return a if b is None else b
    return a.merge(b)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


