"""Mergeable statistics: a running summary over random insert/update/delete sequences equals
statistics recomputed from scratch (exact parts) or lies within its sketch's stated error."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.stats import Summary, compare, compute_statistics, next_summary, summarize
from lakebox.stats.sketches import HLL_ERROR, KLL_RANK_ERROR

TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([("k", pa.int64()), ("x", pa.float64()), ("n", pa.int64()), ("s", pa.string()),
                    ("b", pa.bool_()), ("ts", TS)])
# Stated errors, with room for hypothesis' many draws: HLL 1.6% standard error -> 5 sigma;
# KLL's rank error is a 99% bound for one query -> twice it.
DISTINCT_TOLERANCE = 5 * HLL_ERROR
RANK_TOLERANCE = 2 * KLL_RANK_ERROR


def _rows(draw: st.DrawFn, keys: list[int], well_conditioned: bool = False) -> pa.Table:
    """Random rows; ``well_conditioned``: floats are multiples of 1/8 (no 1e-38 beside 1.0,
    whose moments differ in the last bits with the order of the sums, in any algorithm)."""
    n = len(keys)
    floats = st.integers(-8 * 10**6, 8 * 10**6).map(lambda v: v / 8) if well_conditioned else st.floats(
        -1e6, 1e6, width=32
    )
    x = draw(st.lists(st.one_of(st.none(), floats, st.just(float("nan"))), min_size=n, max_size=n))
    ints = draw(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=n, max_size=n))
    s = draw(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "dd", "e"])), min_size=n, max_size=n))
    b = draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n))
    ts = draw(st.lists(st.one_of(st.none(), st.integers(0, 10**12)), min_size=n, max_size=n))
    return pa.table({"k": keys, "x": x, "n": ints, "s": s, "b": b, "ts": ts}, schema=SCHEMA)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, pa.Table]]:
    ops = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["insert", "insert", "delete"]))
        keys = sorted(set(draw(st.lists(st.integers(0, 40), min_size=1, max_size=25))))
        ops.append((kind, _rows(draw, keys) if kind == "insert" else pa.table({"k": pa.array(keys, pa.int64())})))
    return ops


class Model:
    """The group as a table keyed by ``k`` (an upsert replaces the row), and its running summary."""

    def __init__(self) -> None:
        self.table = SCHEMA.empty_table()
        self.summary: Summary | None = None
        self.removed_values = False  # some removed row had a non-null x, n or ts

    def apply(self, kind: str, rows: pa.Table) -> None:
        hit = pc.is_in(self.table.column("k"), value_set=rows.column("k"))
        removed = self.table.filter(hit)
        kept = self.table.filter(pc.invert(hit))
        self.table = pa.concat_tables([kept, rows]) if kind == "insert" else kept
        self.summary = next_summary(self.summary, rows if kind == "insert" else None, removed)
        if self.summary.row_count and removed.num_rows:
            self.removed_values |= any(removed.column(c).null_count < removed.num_rows for c in ("x", "n", "ts"))
        if not self.table.num_rows:
            self.removed_values = False


def _check(model: Model) -> None:
    assert model.summary is not None
    got = model.summary.statistics()
    want = compute_statistics(model.table) if model.table.num_rows else None
    assert got.row_count == model.table.num_rows
    if want is None:
        return
    approximate = got.approximate
    assert got.exact == (not approximate)
    for name in SCHEMA.names:
        g, w = got[name], want[name]
        stale = set(approximate.get(name, ()))
        for key in ("type", "count", "null_count", "nan_count", "inf_count"):
            assert g[key] == w[key], (name, key)
        for key in ("min", "max"):
            if key not in stale:
                assert g[key] == w[key], (name, key)
            elif w[key] is not None and g[key] is not None:  # a stale bound lies outside the true one
                assert (g[key] <= w[key]) if key == "min" else (g[key] >= w[key])
        if name in ("s", "b"):
            assert g["distinct"] == w["distinct"] and g["top"] == w["top"]  # exact: few distinct values
        else:
            true = len(set(v for v in model.table.column(name).to_pylist() if v is not None and v == v))
            true += any(v is not None and v != v for v in model.table.column(name).to_pylist())  # one NaN
            if "distinct" in stale:
                assert g["distinct"] >= math.floor(true * (1 - DISTINCT_TOLERANCE)) - 1
            else:
                assert abs(g["distinct"] - true) <= max(1, DISTINCT_TOLERANCE * true), (name, g["distinct"], true)
        if name in ("x", "n"):
            _check_numeric(model, name, g, w, stale)
    assert set(got.correlations) == set(want.correlations)
    # the reference for correlations is pandas' pairwise-complete, two-pass DataFrame.corr():
    # compute_statistics centres each pair's rows by the feature's overall mean, which costs
    # digits when a pair's rows sit far from it (a known limit of the one-pass exact path)
    frame = model.table.select(list(want.correlations)).to_pandas().astype("float64")
    frame = frame.where(np.isfinite(frame))
    reference = frame.corr()
    for a, row in want.correlations.items():
        for b, r in row.items():
            if r is not None and not math.isnan(reference.loc[a, b]):
                r = float(reference.loc[a, b]) if a != b else 1.0
            if {"correlations"} & (set(approximate.get(a, ())) | set(approximate.get(b, ()))):
                continue  # a subtraction cancelled most digits: flagged, not exact
            assert (got.correlations[a][b] is None) == (r is None) or abs(r or 0) < 1e-6, (a, b)
            if r is not None and got.correlations[a][b] is not None:
                assert got.correlations[a][b] == pytest.approx(r, abs=1e-6 + 1e-13 * _conditioning(frame, a, b))


def _conditioning(frame: object, a: str, b: str) -> float:
    """How badly centring by a feature's overall mean conditions a pair's correlation: the
    largest squared value of either feature over the pair's spread (both implementations
    centre blockwise by overall means, so rounding grows with this ratio)."""
    if a == b:
        return 0.0  # the diagonal is exactly 1.0
    both = frame[[a, b]].dropna()  # type: ignore[index]
    worst = 0.0
    for name in (a, b):
        spread = float(((both[name] - both[name].mean()) ** 2).sum())
        peak = float(np.nanmax(np.abs(frame[name].to_numpy())) ** 2)  # type: ignore[index]
        worst = max(worst, peak / spread if spread > 0 else math.inf)
    return worst


def _check_numeric(model: Model, name: str, g: dict, w: dict, stale: set[str]) -> None:
    values = np.asarray([v for v in model.table.column(name).to_pylist() if v is not None and math.isfinite(v)])
    if not len(values):
        assert g["mean"] is None and g["histogram"] is None
        return
    scale = max(1.0, float(np.abs(values).max()))
    assert g["mean"] == pytest.approx(w["mean"], rel=1e-9, abs=1e-9 * scale)
    if "stddev" in stale:
        pass  # flagged approximate by a subtraction that cancelled most digits
    elif w["stddev"] is None:
        assert g["stddev"] is None
    else:
        assert g["stddev"] == pytest.approx(w["stddev"], rel=1e-6, abs=1e-6 * scale)
    hist = g["histogram"]  # exact counts over its own (dyadic) edges
    assert sum(hist["counts"]) == len(values)
    edges = np.asarray(hist["edges"])
    if edges[0] == edges[-1]:
        assert (values == edges[0]).all()
    else:
        expected = np.diff(np.searchsorted(np.sort(values), edges, side="left"))
        assert hist["counts"] == expected.tolist()
    stale_values = model.summary[name].stale  # removed values the KLL still holds
    slack = RANK_TOLERANCE + (stale_values + 1) / len(values)
    ordered = np.sort(values)
    for q, v in g["quantiles"].items():
        below = np.searchsorted(ordered, v, side="left") / len(values)
        upto = np.searchsorted(ordered, v, side="right") / len(values)
        assert below - slack <= float(q) <= upto + slack, (name, q, v)


@settings(max_examples=examples(dev=20, ci=120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_running_statistics_equal_recomputed(history: list[tuple[str, pa.Table]]) -> None:
    model = Model()
    for kind, rows in history:
        model.apply(kind, rows)
        _check(model)
        if not model.removed_values:
            assert model.summary is not None
            stale = {name: parts for name, parts in model.summary.approximate.items() if name in ("x", "n", "ts")}
            assert not stale, stale  # numeric/temporal parts go stale only when such values are removed
        # serialization round-trips to the same statistics
        again = Summary.from_dict(json.loads(json.dumps(model.summary.to_dict(), allow_nan=False)))
        assert again.statistics().to_dict() == model.summary.statistics().to_dict()


def test_insert_only_history_is_exact_and_delete_marks_sketches() -> None:
    rng = np.random.default_rng(1)
    model = Model()
    for i in range(3):
        keys = list(range(i * 100, i * 100 + 100))
        x = rng.normal(size=100)
        model.apply("insert", pa.table({"k": keys, "x": x, "n": rng.integers(0, 9, 100), "s": ["a"] * 100,
                                        "b": [True] * 100, "ts": pa.array(rng.integers(0, 10**9, 100), TS)},
                                       schema=SCHEMA))
        assert model.summary is not None and model.summary.exact
        _check(model)
    model.apply("delete", pa.table({"k": pa.array([5, 150], pa.int64())}))
    stats = model.summary.statistics()
    assert not stats.exact and stats.to_dict()["$exact"] is False
    assert {"distinct", "quantiles"} <= set(stats.approximate["x"])
    assert "mean" not in stats.approximate["x"] and "histogram" not in stats.approximate["x"]
    _check(model)
    # deleting everything makes it exact again (nothing is left to be wrong about)
    model.apply("delete", pa.table({"k": pa.array(range(300), pa.int64())}))
    assert model.summary.exact and model.summary.row_count == 0


def test_deleting_rows_without_sketched_values_stays_exact() -> None:
    rows = pa.table({"k": [1, 2, 3], "x": [1.0, 2.0, None], "n": [1, 2, None], "s": ["a", "c", "b"],
                     "b": [True, False, True], "ts": pa.array([1, 2, None], TS)}, schema=SCHEMA)
    # row 3 has no numeric/temporal value and its string is neither the min nor the max
    running = summarize(rows, exclude=["k"]).subtract(summarize(rows.slice(2), exclude=["k"]))
    assert running.exact
    assert running.statistics().to_dict() == summarize(rows.slice(0, 2), exclude=["k"]).statistics().to_dict()
    # removing the row holding the string minimum makes that bound (only) approximate
    running = summarize(rows, exclude=["k"]).subtract(summarize(rows.slice(0, 1), exclude=["k"]))
    assert running.approximate["s"] == ["min"]


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_merge_is_associative_and_commutative(data: st.DataObject) -> None:
    parts = [_rows(data.draw, list(range(i * 10, i * 10 + data.draw(st.integers(0, 8)))), True) for i in range(3)]
    a, b, c = (summarize(p) for p in parts)
    left = a.merge(b).merge(c).statistics().to_dict()
    right = a.merge(b.merge(c)).statistics().to_dict()
    swapped = c.merge(a).merge(b).statistics().to_dict()
    whole = summarize(pa.concat_tables(parts)).statistics().to_dict()
    for other in (right, swapped, whole):
        _assert_close(left, other)


def _assert_close(a: object, b: object, where: str = "") -> None:
    """Equal structures; floats equal up to rounding (merges add in different orders)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_summary_size_is_bounded_and_merges_different_ranges() -> None:
    rng = np.random.default_rng(2)
    small = summarize(pa.table({"x": rng.normal(size=1_000)}))
    big = summarize(pa.table({"x": rng.normal(1e6, 1e5, size=200_000)}))
    merged = small.merge(big)
    size = len(json.dumps(merged.to_dict()))
    assert size < 16_000, size  # per numeric feature, whatever the rows
    hist = merged.statistics()["x"]["histogram"]
    assert sum(hist["counts"]) == 201_000 and len(hist["counts"]) <= 20


def test_compare_works_from_summaries() -> None:
    rng = np.random.default_rng(3)
    a = pa.table({"x": rng.normal(0, 1, 20_000)})
    b = pa.table({"x": rng.normal(1, 1, 20_000)})
    same = compare(summarize(a).statistics(), summarize(pa.table({"x": rng.normal(0, 1, 20_000)})).statistics())
    drift = compare(summarize(a).statistics(), summarize(b).statistics())
    assert same["x"]["psi"] < 0.05 and drift["x"]["psi"] > 0.25
    assert drift["x"]["ks"] == pytest.approx(compare(compute_statistics(a), compute_statistics(b))["x"]["ks"], abs=0.05)


def test_catalog_stores_summaries_per_commit(tmp_path) -> None:
    db = CatalogDB(tmp_path / "catalog.db")
    groups = GroupStore(db)
    group_id = groups.create(name="g", version=1, description="", primary_key=["k"], event_time=None,
                             online_enabled=False, table_name="t_g_1").id
    first = summarize(pa.table({"x": [1.0, 2.0]}))
    groups.save_summary(group_id, 1, first.to_dict(), first.exact)
    second = first.subtract(summarize(pa.table({"x": [1.0]})))
    groups.save_summary(group_id, 3, second.to_dict(), second.exact)
    assert groups.summary(group_id, 0) is None
    row = groups.summary(group_id, 2)
    assert row is not None and row.commit_id == 1 and row.exact
    assert Summary.from_dict(row.summary).statistics().to_dict() == first.statistics().to_dict()
    latest = groups.summary(group_id)
    assert latest is not None and latest.commit_id == 3 and not latest.exact
    db.close()


def test_replacing_one_row_whose_removal_cancels_the_mean_is_flagged_not_wrong() -> None:
    """Found by the property above: removing x=1.0 from {1.0, 3.6e-44} leaves a mean of 0.0 by
    cancellation, so after an upsert of x=0.0 the pair (k, x) looked constant (correlation None
    where the truth is 1.0). The subtraction must flag it approximate instead."""
    def rows(keys: list[int], xs: list[float]) -> pa.Table:
        n = len(keys)
        return pa.table({"k": keys, "x": xs, "n": [None] * n, "s": [None] * n, "b": [None] * n, "ts": [None] * n},
                        schema=SCHEMA)  # fmt: skip

    model = Model()
    model.apply("insert", rows([1, 25], [1.0, 3.6433760072445244e-44]))
    model.apply("insert", rows([1], [0.0]))
    assert "correlations" in model.summary.statistics().approximate["x"]
    _check(model)


def test_forgetting_unread_rows_marks_every_kind_including_nested() -> None:
    """Rows removed unseen (``Summary.forget``) leave the row count exact and every feature's
    counts approximate, whatever its kind (a list feature has counts only)."""
    rows = pa.table({"x": [1.0, 2.0, 3.0], "flag": [True, False, True], "s": ["a", "b", "c"], "tags": [[1], [2, 3], []]})
    forgotten = summarize(rows).forget(1)
    assert forgotten.row_count == 2 and not forgotten.exact
    for name in rows.column_names:
        assert {"count", "null_count"} <= set(forgotten.approximate[name]), name
    assert "mean" in forgotten.approximate["x"] and "top" in forgotten.approximate["s"]
    assert summarize(rows).forget(0).exact
