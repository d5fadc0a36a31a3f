"""Descriptive statistics of a batch of feature data, and drift between two batches.

``compute_statistics(table)`` summarises every column of an Arrow table (counts, nulls, distinct
values, min/max, mean, sample standard deviation, exact quantiles, an equal-width histogram, the
most frequent values of strings and booleans) plus the Pearson correlations between numeric
columns. ``compare(a, b)`` scores the drift of each numeric feature from ``a`` to ``b`` (PSI and a
Kolmogorov-Smirnov statistic) from the statistics alone; ``compare_tables`` does it exactly from
raw data.

Statistics run on every commit, so each part runs where it is fastest (measured on 1M x 12 rows,
2 cores: about 0.5 s in all): one DuckDB aggregate for approximate distinct counts
(``approx_count_distinct``, HyperLogLog) and one DuckDB query for the top values of string
columns, both built as sqlglot trees over positional column aliases, running beside numpy, which
computes the moments, exact quantiles, histograms and correlations from the column buffers
(DuckDB's holistic ``quantile_cont`` and per-pair ``corr`` took 0.6-0.75 s and 0.35 s alone).

Conventions (the same for every feature):

- ``count`` is the number of non-null values and ``null_count`` the nulls; ``NaN`` is a value, not
  a null (Arrow keeps them apart), counted in ``nan_count``; ``inf_count`` counts +-infinity.
- ``min``, ``max``, ``mean``, ``stddev`` (sample, ddof=1), ``quantiles``, ``histogram`` and the
  correlations of a numeric feature cover its *finite* values only, so one ``NaN`` does not erase
  a column's mean. Integer min/max stay exact integers; decimals are summarised as floats.
- ``distinct`` is approximate (HyperLogLog, typically within a few percent) except for strings
  and booleans, where the grouping for ``top`` makes it exact.
- ``quantiles`` are exact, linearly interpolated (numpy's and pandas' default), keyed by
  ``str(float(q))``: ``{"0.5": 3.0}``.
- ``histogram`` has ``bins`` equal-width bins between min and max with numpy's edge rules (the last
  bin is closed); a constant feature gets one bin ``{"edges": [v, v], "counts": [n]}``. Counts sum
  to ``count - nan_count - inf_count``.
- Strings and booleans get ``top``: up to 10 ``[value, count]`` pairs, most frequent first (ties by
  value); min/max of strings are lexicographic (by code point). Booleans also get ``mean``, the
  fraction of ``True``. Dates and timestamps get ``min``/``max`` as ISO-8601 strings.
- Lists (and other nested types) get ``count`` and ``null_count`` only; binary adds ``distinct``.
- Every key of ``FEATURE_KEYS`` is present for every feature; what does not apply is ``None``.
  Floats that are not finite become ``None``, so the result is plain JSON.
- Correlations are pairwise-complete Pearson coefficients (pandas ``DataFrame.corr()``), with a
  diagonal of 1.0; ``None`` where a feature is constant over the rows of the pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from lakebox.errors import NotFoundError, StorageError
from lakebox.offline.reader import connect
from lakebox.stats.statistics import (
    DEFAULT_QUANTILES,
    FEATURE_KEYS,
    TOP_VALUES,
    Statistics,
    _as_float,
    _check_bins,
    _check_quantiles,
    _decoded,
    _iso,
    _json_float,
    _kind,
    _value_type,
)
from lakebox.types import type_name_or_raw

__all__ = ["compute_statistics"]

_CORRELATION_BLOCK_ROWS = 1 << 17
_SCAN = "lakebox_stats"


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
    _check_bins(bins)
    probabilities = _check_quantiles(quantiles)
    missing = [name for name in exclude if name not in table.column_names]
    if missing:
        raise NotFoundError(f"Cannot exclude {missing}: no such columns (have {table.column_names}).")
    names = [name for name in table.column_names if name not in set(exclude)]
    types = {name: _value_type(table.schema.field(name).type) for name in names}
    columns = {name: _decoded(table.column(name)) for name in names}
    n = table.num_rows

    features: dict[str, dict[str, Any]] = {}
    kinds = {name: _kind(column.type) for name, column in columns.items()}
    for name, column in columns.items():
        entry = dict.fromkeys(FEATURE_KEYS)
        entry.update(type=type_name_or_raw(types[name]), count=n - column.null_count, null_count=column.null_count)
        features[name] = entry
        if kinds[name] == "boolean":
            _boolean_stats(column, entry)
        elif kinds[name] in ("string", "temporal"):
            _min_max(column, entry)

    numeric = [name for name in names if kinds[name] == "numeric"]
    distinct_of = [name for name in names if kinds[name] in ("numeric", "string", "temporal", "binary")]
    top_of = [name for name in names if kinds[name] == "string"]
    for name in distinct_of:
        features[name]["distinct"] = 0
    for name in top_of:
        features[name]["top"] = []
    # DuckDB (which releases the GIL) runs beside the numpy work on the numeric features.
    with ThreadPoolExecutor(max_workers=2) as pool:
        duck = pool.submit(_duckdb_pass, columns, distinct_of, top_of) if n and distinct_of else None
        results = pool.map(lambda name: _numeric_stats(columns[name], bins, probabilities), numeric)
        for name, result in zip(numeric, results, strict=True):
            features[name].update(result)
        if duck is not None:
            distinct, top = duck.result()
            for name, value in distinct.items():
                features[name]["distinct"] = min(value, features[name]["count"])
            for name, pairs in top.items():
                features[name]["top"] = pairs
    correlated = {name: columns[name] for name in numeric if features[name]["mean"] is not None}
    correlations = _correlations(correlated, {name: features[name] for name in correlated})
    return Statistics(row_count=n, features=features, correlations=correlations)


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


def _numeric_stats(column: pa.ChunkedArray, bins: int, probabilities: list[float]) -> dict[str, Any]:
    """Moments, quantiles and histogram of a numeric column's finite values (numpy)."""
    entry: dict[str, Any] = {"nan_count": 0, "inf_count": 0}
    if column.null_count:
        column = pc.drop_null(column)
    integers = None
    if pa.types.is_decimal(column.type):
        values = column.cast(pa.float64(), safe=False).to_numpy()
    elif pa.types.is_integer(column.type):
        integers = column.to_numpy()
        values = integers.astype(np.float64)
    else:
        values = column.to_numpy().astype(np.float64, copy=False)
        finite = np.isfinite(values)
        if not finite.all():
            entry["nan_count"] = int(np.isnan(values).sum())
            entry["inf_count"] = int(len(values) - finite.sum()) - entry["nan_count"]
            values = values[finite]
    if not len(values):
        return entry
    lo: float | int
    hi: float | int
    with np.errstate(all="ignore"):
        if integers is not None:  # exact, also beyond 2**53
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
    return entry


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
    return {str(p): _json_float(v) for p, v in zip(probabilities, result, strict=True)}


def _histogram(values: np.ndarray, bins: int, lo: float, hi: float) -> dict[str, list[Any]]:
    """numpy's equal-width histogram over [lo, hi]; one bin [v, v] for a constant feature."""
    if lo == hi:
        return {"edges": [lo, hi], "counts": [len(values)]}
    scale = 1.0 if math.isfinite(hi - lo) else 2.0  # a range wider than the largest float: halve
    with np.errstate(all="ignore"):
        counts, edges = np.histogram(
            values / scale if scale != 1.0 else values, bins=bins, range=(lo / scale, hi / scale)
        )
    return {"edges": [float(e) * scale for e in edges], "counts": [int(c) for c in counts]}


def _duckdb_pass(
    columns: Mapping[str, pa.ChunkedArray], distinct_of: Sequence[str], top_of: Sequence[str]
) -> tuple[dict[str, int], dict[str, list[list[Any]]]]:
    """Distinct counts and the top values of string columns, in two DuckDB queries.

    ``distinct_of`` columns get ``approx_count_distinct`` (HyperLogLog, a few percent off at high
    cardinality) in one aggregate; ``top_of`` (string) columns are grouped anyway for their top
    values, which gives their exact distinct count for free. Columns reach SQL under positional
    aliases (``c0``, ``c1``...), so no user name is ever part of the query text.
    """
    wanted = list(dict.fromkeys([*distinct_of, *top_of]))
    alias = {name: f"c{i}" for i, name in enumerate(wanted)}
    scan = pa.table([columns[name] for name in wanted], names=[alias[name] for name in wanted])
    source = exp.to_identifier(_SCAN, quoted=True)
    distinct: dict[str, int] = {}
    top: dict[str, list[list[Any]]] = {name: [] for name in top_of}
    approximate = [name for name in distinct_of if name not in top]
    con = connect()
    try:
        con.register(_SCAN, scan)
        if approximate:
            select = exp.select(
                *[
                    exp.alias_(
                        exp.func("approx_count_distinct", exp.column(alias[name], quoted=True)), f"d{i}", quoted=True
                    )
                    for i, name in enumerate(approximate)
                ]
            ).from_(source)
            row = con.execute(select.sql(dialect="duckdb")).fetchone() or ()
            distinct = {name: int(value or 0) for name, value in zip(approximate, row, strict=True)}
        if top_of:
            union: exp.Query | None = None
            for i, name in enumerate(top_of):
                branch = _top_values_query(i, exp.column(alias[name], quoted=True), source)
                sub = exp.select(exp.Star()).from_(branch.subquery(f"t{i}", copy=False))
                union = sub if union is None else exp.union(union, sub, distinct=False)
            assert union is not None
            for i, value, count, groups in con.execute(union.sql(dialect="duckdb")).fetchall():
                top[top_of[i]].append([value, int(count)])
                distinct[top_of[i]] = int(groups)
            for name in top_of:
                top[name].sort(key=lambda pair: (-pair[1], pair[0]))
    except duckdb.Error as e:
        raise StorageError(f"Computing statistics failed in DuckDB: {e}") from e
    finally:
        con.close()
    return distinct, top


def _top_values_query(index: int, col: exp.Column, source: exp.Identifier) -> exp.Select:
    """``SELECT i, v, count(*) n, count(*) OVER () groups ... GROUP BY v ORDER BY n DESC, v LIMIT 10``."""
    count = exp.Count(this=exp.Star())
    return (
        exp.select(
            exp.alias_(exp.Literal.number(index), "i", quoted=True),
            exp.alias_(col.copy(), "v", quoted=True),
            exp.alias_(count.copy(), "n", quoted=True),
            exp.alias_(exp.Window(this=count.copy()), "groups", quoted=True),
        )
        .from_(source.copy())
        .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
        .group_by(col.copy())
        .order_by(exp.Ordered(this=exp.column("n", quoted=True), desc=True), exp.column("v", quoted=True))
        .limit(TOP_VALUES)
    )


def _correlations(
    columns: Mapping[str, pa.ChunkedArray], entries: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, float | None]]:
    """Pearson correlations between numeric features over the rows where both are finite.

    Pairwise-complete like pandas ``DataFrame.corr()``. The sums come from matrix products over
    blocks of rows of the centred and scaled columns (so memory stays bounded and large values
    neither overflow nor cancel); ``None`` where a feature is constant on the rows of a pair.
    """
    names = list(columns)
    if not names:
        return {}
    k = len(names)
    dense = [
        not (entries[name]["null_count"] or entries[name]["nan_count"] or entries[name]["inf_count"]) for name in names
    ]
    centre = [float(entries[name]["mean"]) for name in names]
    inverse = [1.0 / (entries[name]["stddev"] or 1.0) for name in names]
    zz = np.zeros((k, k))  # sum z_i z_j over rows where both are finite
    vv = np.zeros((k, k))  # number of rows where both are finite
    zv = np.zeros((k, k))  # sum z_i over rows where j is finite too
    z2v = np.zeros((k, k))  # sum z_i^2 over rows where j is finite too
    rows = len(columns[names[0]])
    with np.errstate(all="ignore"):
        for start in range(0, rows, _CORRELATION_BLOCK_ROWS):
            size = min(_CORRELATION_BLOCK_ROWS, rows - start)
            z = np.empty((k, size))  # one row per feature: every step below is contiguous
            valid = np.ones((k, size), dtype=bool)
            complete = True
            for j, name in enumerate(names):
                x = _as_float(columns[name].slice(start, size))
                if not dense[j]:
                    np.isfinite(x, out=valid[j])
                    complete = complete and bool(valid[j].all())
                np.subtract(x, centre[j], out=z[j])
                z[j] *= inverse[j]
            if complete:
                zz += z @ z.T
                vv += size
                zv += z.sum(axis=1)[:, None]
                z2v += np.einsum("ij,ij->i", z, z)[:, None]
                continue
            z[~valid] = 0.0
            v = valid.astype(np.float64)
            zz += z @ z.T
            vv += v @ v.T
            zv += z @ v.T
            z2v += (z * z) @ v.T
        safe_n = np.where(vv > 0, vv, 1.0)
        cov = zz - zv * zv.T / safe_n
        var_x = z2v - zv * zv / safe_n
        var_y = var_x.T
        r = cov / np.sqrt(var_x * var_y)
    ok = (vv >= 2) & (var_x > 1e-12 * z2v) & (var_y > 1e-12 * z2v.T) & np.isfinite(r)
    r = np.clip(r, -1.0, 1.0)
    np.fill_diagonal(r, 1.0)  # exactly 1 (rounding gives 0.9999999999999989); `ok` still guards it
    return {a: {b: (float(r[i, j]) if ok[i, j] else None) for j, b in enumerate(names)} for i, a in enumerate(names)}


