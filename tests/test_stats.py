"""Descriptive statistics: every number equals pandas/numpy on the same data; drift scores behave."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakebox.errors import NotFoundError, ValidationError
from lakebox.stats import (
    CORRELATIONS_KEY,
    FEATURE_KEYS,
    ROW_COUNT_KEY,
    Statistics,
    compare,
    compare_tables,
    compute_statistics,
)

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _roundtrip(stats: Statistics) -> Statistics:
    return Statistics.from_dict(json.loads(json.dumps(stats.to_dict(), allow_nan=False)))


@pytest.fixture(scope="module")
def table() -> pa.Table:
    """2,000 rows: ints and floats with nulls, correlated floats, strings, booleans, timestamps."""
    rng = np.random.default_rng(42)
    n = 2000
    x = rng.normal(10, 3, n)
    y = 2 * x + rng.normal(0, 1, n)
    ints = rng.integers(-50, 500, n)
    null_int = rng.random(n) < 0.1
    null_y = rng.random(n) < 0.05
    words = np.array(["apple", "banana", "cherry", "durian", "elder", "fig"])
    # Distinct frequencies so that the top values have one order.
    s = np.repeat(words, [700, 500, 350, 250, 150, 50])
    rng.shuffle(s)
    s = s.astype(object)
    s[rng.random(n) < 0.03] = None
    flags = rng.random(n) < 0.3
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ts = [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 100_000, n)]
    return pa.table(
        {
            "x": pa.array(x),
            "y": pa.array(y, mask=null_y),
            "n": pa.array(ints, mask=null_int),
            "f32": pa.array(rng.uniform(-1, 1, n).astype(np.float32)),
            "s": pa.array(s, pa.string()),
            "flag": pa.array(flags),
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        }
    )


@pytest.fixture(scope="module")
def stats(table: pa.Table) -> Statistics:
    return compute_statistics(table, quantiles=QUANTILES)


@pytest.mark.parametrize("name", ["x", "y", "n", "f32"])
def test_numeric_statistics_equal_pandas(table: pa.Table, stats: Statistics, name: str) -> None:
    series = table.column(name).to_pandas().astype("float64")
    got = stats[name]
    assert got["count"] == series.count()
    assert got["null_count"] == series.isna().sum()
    assert got["mean"] == pytest.approx(series.mean(), rel=1e-12)
    assert got["stddev"] == pytest.approx(series.std(ddof=1), rel=1e-10)
    assert got["min"] == pytest.approx(series.min(), rel=1e-15)
    assert got["max"] == pytest.approx(series.max(), rel=1e-15)
    assert set(got["quantiles"]) == {str(q) for q in QUANTILES}
    for q in QUANTILES:
        assert got["quantiles"][str(q)] == pytest.approx(series.quantile(q), rel=1e-12, abs=1e-12)
    assert got["distinct"] == pytest.approx(series.nunique(), rel=0.05)
    assert got["nan_count"] == 0 and got["inf_count"] == 0


@pytest.mark.parametrize("name", ["x", "y", "n", "f32"])
def test_histogram_equals_numpy_and_sums_to_count(table: pa.Table, stats: Statistics, name: str) -> None:
    values = table.column(name).drop_null().to_numpy().astype(np.float64)
    histogram = stats[name]["histogram"]
    counts, edges = np.histogram(values, bins=20, range=(values.min(), values.max()))
    assert histogram["counts"] == counts.tolist()
    np.testing.assert_allclose(histogram["edges"], edges, rtol=1e-15)
    assert sum(histogram["counts"]) == stats[name]["count"]


def test_integer_min_max_are_exact_ints(stats: Statistics) -> None:
    assert isinstance(stats["n"]["min"], int) and isinstance(stats["n"]["max"], int)
    big = compute_statistics(pa.table({"k": pa.array([2**62 + 1, 3], pa.int64())}))
    assert big["k"]["max"] == 2**62 + 1


def test_correlations_equal_pandas_and_numpy(table: pa.Table, stats: Statistics) -> None:
    numeric = ["x", "y", "n", "f32"]
    frame = table.select(numeric).to_pandas().astype("float64")
    expected = frame.corr()  # pairwise-complete, like lakebox
    assert set(stats.correlations) == set(numeric)
    for a in numeric:
        for b in numeric:
            assert stats.correlations[a][b] == pytest.approx(expected.loc[a, b], abs=1e-10)
    complete = frame.dropna().to_numpy().T
    full = compute_statistics(pa.Table.from_pandas(frame.dropna(), preserve_index=False))
    np.testing.assert_allclose(
        [[full.correlations[a][b] for b in numeric] for a in numeric], np.corrcoef(complete), atol=1e-10
    )
    assert stats.correlations["x"]["y"] > 0.9


def test_correlations_skip_non_numeric_and_constant() -> None:
    stats = compute_statistics(
        pa.table({"a": [1.0, 2.0, 3.0], "c": [5, 5, 5], "s": ["u", "v", "w"], "b": [True, False, True]})
    )
    assert set(stats.correlations) == {"a", "c"}
    assert stats.correlations["a"]["a"] == 1.0
    assert stats.correlations["a"]["c"] is None and stats.correlations["c"]["c"] is None


def test_correlations_over_many_blocks_with_nulls() -> None:
    rng = np.random.default_rng(3)
    n = 300_000  # more than two correlation blocks
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    x[rng.random(n) < 0.2] = np.nan  # NaN: excluded pairwise, like pandas
    mask = rng.random(n) < 0.1
    table = pa.table({"x": pa.array(x), "y": pa.array(y, mask=mask)})
    got = compute_statistics(table).correlations["x"]["y"]
    assert got == pytest.approx(table.to_pandas().corr().loc["x", "y"], abs=1e-10)


def test_string_statistics(table: pa.Table, stats: Statistics) -> None:
    series = table.column("s").to_pandas()
    got = stats["s"]
    counts = series.value_counts()
    assert got["count"] == series.count() and got["null_count"] == series.isna().sum()
    assert got["distinct"] == series.nunique()  # exact for strings
    assert got["top"] == [[value, int(count)] for value, count in counts.items()]
    assert got["min"] == series.dropna().min() and got["max"] == series.dropna().max()
    assert got["mean"] is None and got["histogram"] is None and got["quantiles"] is None


def test_top_values_keep_ten_most_frequent_ties_by_value() -> None:
    values = [f"v{i:02d}" for i in range(15) for _ in range(3)] + ["zz"] * 5
    got = compute_statistics(pa.table({"s": values}))["s"]["top"]
    assert got[0] == ["zz", 5]
    assert got[1:] == [[f"v{i:02d}", 3] for i in range(9)]
    assert len(got) == 10


def test_boolean_statistics(table: pa.Table, stats: Statistics) -> None:
    series = table.column("flag").to_pandas()
    got = stats["flag"]
    assert got["mean"] == pytest.approx(series.mean())
    assert got["distinct"] == 2 and got["min"] is False and got["max"] is True
    assert got["top"] == [[bool(v), int(c)] for v, c in series.value_counts().items()]


def test_timestamp_and_date_statistics(table: pa.Table, stats: Statistics) -> None:
    series = table.column("ts").to_pandas()
    assert stats["ts"]["min"] == series.min().isoformat()
    assert stats["ts"]["max"] == series.max().isoformat()
    assert dt.datetime.fromisoformat(stats["ts"]["min"]).tzinfo is not None
    dates = compute_statistics(pa.table({"d": [dt.date(2026, 3, 1), None, dt.date(2025, 1, 2)]}))["d"]
    assert (dates["min"], dates["max"], dates["count"], dates["null_count"]) == ("2025-01-02", "2026-03-01", 2, 1)
    assert dates["mean"] is None


def test_nan_and_inf_are_counted_not_averaged() -> None:
    values = [1.0, 2.0, float("nan"), float("inf"), float("-inf"), None, 6.0]
    got = compute_statistics(pa.table({"v": pa.array(values, pa.float64())}))["v"]
    assert (got["count"], got["null_count"], got["nan_count"], got["inf_count"]) == (6, 1, 1, 2)
    finite = np.array([1.0, 2.0, 6.0])
    assert got["mean"] == pytest.approx(finite.mean())
    assert got["stddev"] == pytest.approx(finite.std(ddof=1))
    assert (got["min"], got["max"]) == (1.0, 6.0)
    assert sum(got["histogram"]["counts"]) == got["count"] - got["nan_count"] - got["inf_count"]
    only_nan = compute_statistics(pa.table({"v": pa.array([float("nan")] * 3)}))["v"]
    assert only_nan["mean"] is None and only_nan["histogram"] is None and only_nan["nan_count"] == 3


def test_constant_column_has_zero_stddev_and_one_bin() -> None:
    got = compute_statistics(pa.table({"c": pa.array([4] * 10, pa.int32())}))["c"]
    assert got["stddev"] == 0.0 and got["mean"] == 4.0
    assert got["histogram"] == {"edges": [4.0, 4.0], "counts": [10]}
    assert set(got["quantiles"].values()) == {4.0}


def test_single_value_has_no_stddev() -> None:
    got = compute_statistics(pa.table({"v": [3.5]}))["v"]
    assert got["mean"] == 3.5 and got["stddev"] is None


def test_empty_table() -> None:
    schema = pa.schema([("a", pa.int64()), ("s", pa.string()), ("t", pa.timestamp("us", tz="UTC"))])
    stats = compute_statistics(schema.empty_table())
    assert stats.row_count == 0
    for name in schema.names:
        assert stats[name]["count"] == 0 and stats[name]["null_count"] == 0 and stats[name]["distinct"] == 0
        assert stats[name]["min"] is None and stats[name]["mean"] is None
    assert stats["s"]["top"] == []
    assert stats.correlations == {}
    assert _roundtrip(stats) == stats


def test_all_null_columns() -> None:
    table = pa.table(
        {
            "f": pa.array([None, None], pa.float64()),
            "s": pa.array([None, None], pa.string()),
            "b": pa.array([None, None], pa.bool_()),
            "z": pa.array([None, None]),
        }
    )
    stats = compute_statistics(table)
    for name in table.column_names:
        assert stats[name]["count"] == 0 and stats[name]["null_count"] == 2
        assert stats[name]["mean"] is None and stats[name]["histogram"] is None
    assert stats["s"]["top"] == [] and stats["b"]["top"] == []
    assert stats.correlations == {}


def test_decimal_list_binary_and_dictionary_columns() -> None:
    table = pa.table(
        {
            "d": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("3.30")], pa.decimal128(10, 2)),
            "l": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
            "bin": pa.array([b"a", b"a", None]),
            "cat": pa.array(["u", "v", "u"]).dictionary_encode(),
        }
    )
    stats = compute_statistics(table)
    assert stats["d"]["mean"] == pytest.approx(2.2) and stats["d"]["type"] == "decimal(10,2)"
    assert stats["l"]["count"] == 2 and stats["l"]["null_count"] == 1
    assert all(stats["l"][key] is None for key in FEATURE_KEYS if key not in ("type", "count", "null_count"))
    assert stats["bin"]["distinct"] == 1 and stats["bin"]["top"] is None
    assert stats["cat"]["type"] == "string" and stats["cat"]["top"] == [["u", 2], ["v", 1]]


def test_to_dict_shape_and_json_roundtrip(stats: Statistics) -> None:
    data = stats.to_dict()
    features = {key for key in data if not key.startswith("$")}
    assert features == {"x", "y", "n", "f32", "s", "flag", "ts"}
    for name in features:
        assert {"count", "null_count", "distinct", "min", "max", "mean", "stddev", "quantiles", "histogram"} <= set(
            data[name]
        )
    assert data[ROW_COUNT_KEY] == 2000
    assert data[CORRELATIONS_KEY]["x"]["y"] == stats.correlations["x"]["y"]
    back = _roundtrip(stats)
    assert back == stats
    assert back.row_count == 2000


def test_from_dict_tolerates_unknown_reserved_keys_and_rejects_garbage(stats: Statistics) -> None:
    data = stats.to_dict()
    data["$format"] = 2
    assert Statistics.from_dict(data) == stats
    with pytest.raises(ValidationError):
        Statistics.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Statistics.from_dict({"x": 3})


def test_exclude_bins_and_quantiles_options(table: pa.Table) -> None:
    stats = compute_statistics(table, exclude=["ts", "s"], bins=5, quantiles=[0.5])
    assert "ts" not in stats and "s" not in stats
    assert len(stats["x"]["histogram"]["counts"]) == 5
    assert list(stats["x"]["quantiles"]) == ["0.5"]
    with pytest.raises(NotFoundError):
        compute_statistics(table, exclude=["nope"])
    with pytest.raises(NotFoundError, match="'x'"):
        stats["xx"]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValidationError):
            compute_statistics(table, bins=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        compute_statistics(table, quantiles=[1.5])
    with pytest.raises(ValidationError):
        compute_statistics(table, quantiles=["median"])  # type: ignore[list-item]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)), min_size=0, max_size=60)
)
def test_property_numeric_statistics_match_numpy(values: list[float | None]) -> None:
    stats = compute_statistics(pa.table({"v": pa.array(values, pa.float64())}))["v"]
    finite = np.array([v for v in values if v is not None], dtype=np.float64)
    assert stats["count"] == len(finite) and stats["null_count"] == len(values) - len(finite)
    if not len(finite):
        assert stats["mean"] is None and stats["histogram"] is None
        return
    assert stats["mean"] == pytest.approx(finite.mean(), rel=1e-9, abs=1e-9)
    assert (stats["min"], stats["max"]) == (finite.min(), finite.max())
    for q, value in stats["quantiles"].items():
        assert value == pytest.approx(np.quantile(finite, float(q)), rel=1e-9, abs=1e-9)
    assert sum(stats["histogram"]["counts"]) == len(finite)
    if len(finite) > 1:
        assert stats["stddev"] == pytest.approx(finite.std(ddof=1), rel=1e-6, abs=1e-9)
    json.dumps(stats, allow_nan=False)


# --- drift ------------------------------------------------------------------------------------


def _normal(mean: float, n: int = 50_000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"v": rng.normal(mean, 1.0, n), "c": np.full(n, 3.0), "s": ["a"] * n})


def test_compare_identical_is_zero() -> None:
    stats = compute_statistics(_normal(0.0))
    result = compare(stats, _roundtrip(stats))
    assert set(result) == {"v", "c"}  # numeric features only
    for name in result:
        assert result[name]["psi"] == pytest.approx(0.0, abs=1e-12)
        assert result[name]["ks"] == pytest.approx(0.0, abs=1e-12)


def test_compare_same_distribution_is_small_and_shift_is_large() -> None:
    a = compute_statistics(_normal(0.0, seed=1))
    same = compare(a, compute_statistics(_normal(0.0, seed=2)))["v"]
    shifted = compare(a, compute_statistics(_normal(1.0, seed=3)))["v"]
    assert same["psi"] < 0.01 and same["ks"] < 0.03
    assert shifted["psi"] > 0.25 and shifted["ks"] > 0.3
    assert shifted["mean_b"] == pytest.approx(1.0, abs=0.05)


def test_compare_approximates_the_exact_scores() -> None:
    ta, tb = _normal(0.0, seed=4), _normal(0.4, seed=5)
    approx = compare(compute_statistics(ta), compute_statistics(tb))["v"]
    exact = compare_tables(ta, tb)["v"]
    assert approx["ks"] == pytest.approx(exact["ks"], abs=0.02)
    assert approx["psi"] == pytest.approx(exact["psi"], rel=0.2)


def test_compare_constant_features() -> None:
    a = compute_statistics(pa.table({"c": [1.0] * 10}))
    b = compute_statistics(pa.table({"c": [2.0] * 10}))
    assert compare(a, a)["c"]["ks"] == 0.0
    result = compare(a, b)["c"]
    assert result["ks"] == 1.0 and result["psi"] > 5
    exact = compare_tables(pa.table({"c": [1.0] * 10}), pa.table({"c": [2.0] * 10}))["c"]
    assert exact["ks"] == 1.0


def test_compare_without_values_and_mismatched_features() -> None:
    a = compute_statistics(pa.table({"v": pa.array([None, None], pa.float64()), "only_a": [1, 2]}))
    b = compute_statistics(pa.table({"v": [1.0, 2.0], "only_b": [1, 2]}))
    result = compare(a, b)
    assert set(result) == {"v"}
    assert result["v"]["psi"] is None and result["v"]["ks"] is None
    assert result["v"]["null_fraction_a"] == 1.0 and result["v"]["null_fraction_b"] == 0.0


def _ks_brute_force(a: np.ndarray, b: np.ndarray) -> float:
    points = np.concatenate([a, b])
    return max(abs(np.mean(a <= p) - np.mean(b <= p)) for p in points)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=40),
    st.lists(st.integers(-20, 20), min_size=1, max_size=40),
)
def test_compare_tables_ks_is_exact(a: list[int], b: list[int]) -> None:
    result = compare_tables(pa.table({"v": a}), pa.table({"v": b}))["v"]
    assert result["ks"] == pytest.approx(_ks_brute_force(np.array(a), np.array(b)), abs=1e-12)
    assert result["psi"] >= 0 and math.isfinite(result["psi"])
    assert compare_tables(pa.table({"v": a}), pa.table({"v": a}))["v"]["psi"] == pytest.approx(0.0, abs=1e-12)


def test_compare_tables_psi_by_hand() -> None:
    a = pa.table({"v": np.arange(100, dtype=np.float64)})
    b = pa.table({"v": np.arange(100, dtype=np.float64) + 50})
    result = compare_tables(a, b, bins=2)["v"]
    # a's median is 49.5: a puts 1/2 on each side, b puts 0 below and 1 above.
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert result["psi"] == pytest.approx(expected)
    assert result["ks"] == pytest.approx(0.5)
    with pytest.raises(ValidationError):
        compare_tables(a, b, bins=0)
