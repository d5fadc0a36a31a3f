"""Expectations: each rule passes and fails with the right counts and samples; predicates are safe."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakebox import expect
from lakebox.errors import TimezoneError, ValidationError
from lakebox.expect import ROW_KEY, Expectation, ValidationReport, validate

UTC = dt.UTC


@pytest.fixture(scope="module")
def batch() -> pa.Table:
    """Ten players; row 3 is too young, row 5 has no age, rows 7 and 8 share a pid."""
    return pa.table(
        {
            "pid": pa.array([0, 1, 2, 3, 4, 5, 6, 7, 7, 9], pa.int64()),
            "age": pa.array([20, 31, 45, 16, 28, None, 60, 33, 33, 25], pa.int64()),
            "rating": [1.5, 2.5, 3.5, 4.5, 2.0, 3.0, 1.0, float("nan"), 2.5, 3.5],
            "team": ["red", "blue", "red", "green", None, "blue", "red", "blue", "blue", "pink"],
            "email": ["a@x.io", "b@x.io", "bad", "d@x.io", "e@x.io", None, "g@x.io", "h@x.io", "h@x.io", "j@x"],
            "joined": pa.array(
                [dt.datetime(2026, 1, i + 1, tzinfo=UTC) for i in range(10)], pa.timestamp("us", tz="UTC")
            ),
            "born": pa.array([dt.date(2000 + i, 1, 1) for i in range(10)]),
            "active": [True, True, False, True, True, True, None, True, True, False],
        }
    )


def _one(table: pa.Table, rule: Expectation, **kwargs: Any) -> expect.ExpectationResult:
    report = validate(table, [rule], **kwargs)
    assert len(report.results) == 1
    assert report.success == report.results[0].success
    return report.results[0]


def _rows(result: expect.ExpectationResult) -> list[int]:
    return [row[ROW_KEY] for row in result.sample]


# --- every rule, passing and failing ---------------------------------------------------------


def test_not_null(batch: pa.Table) -> None:
    assert _one(batch, expect.not_null("pid")).success
    result = _one(batch, expect.not_null("age"))
    assert not result.success and result.failed_rows == 1 and _rows(result) == [5]
    assert result.sample[0]["pid"] == 5 and result.sample[0]["age"] is None


def test_unique(batch: pa.Table) -> None:
    assert _one(batch, expect.unique(["pid", "team"])).failed_rows == 2  # (7, blue) twice
    result = _one(batch, expect.unique("pid"))
    assert not result.success and result.failed_rows == 2 and _rows(result) == [7, 8]
    assert _one(batch, expect.unique(["pid", "rating"])).success


def test_unique_ignores_null_keys() -> None:
    table = pa.table({"k": pa.array([1, None, None, 2], pa.int64()), "j": ["a", "b", "b", None]})
    assert _one(table, expect.unique("k")).success
    assert _one(table, expect.unique(["k", "j"])).success
    assert _one(table, expect.unique("j")).failed_rows == 2


def test_between(batch: pa.Table) -> None:
    assert _one(batch, expect.between("age", 16, 60)).success  # inclusive; NULL passes
    result = _one(batch, expect.between("age", 18, 59))
    assert result.failed_rows == 2 and _rows(result) == [3, 6]
    assert _one(batch, expect.between("age", lo=18)).failed_rows == 1
    assert _one(batch, expect.between("age", hi=59)).failed_rows == 1
    assert _one(batch, expect.between("age", 18.5, 59.5)).failed_rows == 2


def test_between_nan_fails(batch: pa.Table) -> None:
    result = _one(batch, expect.between("rating", 0, 10))
    assert result.failed_rows == 1 and _rows(result) == [7]
    assert result.sample[0]["rating"] == "nan"  # JSON-safe


def test_between_dates_and_timestamps(batch: pa.Table) -> None:
    start = dt.datetime(2026, 1, 3, tzinfo=UTC)
    assert _one(batch, expect.between("joined", start, "2026-01-08T00:00:00+00:00")).failed_rows == 4
    # Another offset names the same instant: 2026-01-03T01:00+01:00 == 2026-01-03T00:00Z.
    assert _one(batch, expect.between("joined", lo="2026-01-03T01:00:00+01:00")).failed_rows == 2
    assert _one(batch, expect.between("born", dt.date(2002, 1, 1), "2008-06-30")).failed_rows == 3
    with pytest.raises(TimezoneError, match="offset"):
        validate(batch, [expect.between("joined", lo="2026-01-03")])


def test_in_set(batch: pa.Table) -> None:
    assert _one(batch, expect.in_set("team", ["red", "blue", "green", "pink"])).success  # NULL passes
    result = _one(batch, expect.in_set("team", ["red", "blue"]))
    assert result.failed_rows == 2 and _rows(result) == [3, 9]
    assert _one(batch, expect.in_set("pid", [0, 1, 2])).failed_rows == 7
    assert _one(batch, expect.in_set("active", [True])).failed_rows == 2
    assert _one(batch, expect.in_set("born", [dt.date(2000, 1, 1), "2001-01-01"])).failed_rows == 8


def test_matches(batch: pa.Table) -> None:
    assert _one(batch, expect.matches("email", r"[a-z]+(@.+)?")).success
    result = _one(batch, expect.matches("email", r"[a-z]+@[a-z]+\.[a-z]{2,}"))
    assert result.failed_rows == 2 and _rows(result) == [2, 9]  # full match: "j@x" fails
    assert _one(batch, expect.matches("email", r"[a-z]@")).failed_rows == 9  # not a substring search


def test_max_null_fraction(batch: pa.Table) -> None:
    result = _one(batch, expect.max_null_fraction("age", 0.1))
    assert result.success and result.observed == pytest.approx(0.1) and result.failed_rows is None
    result = _one(batch, expect.max_null_fraction("age", 0.05))
    assert not result.success and result.sample == []
    assert _one(batch, expect.max_null_fraction("rating", 0)).success  # NaN is not null


def test_mean_between(batch: pa.Table) -> None:
    mean_age = (20 + 31 + 45 + 16 + 28 + 60 + 33 + 33 + 25) / 9
    result = _one(batch, expect.mean_between("age", 30, 40))
    assert result.success and result.observed == pytest.approx(mean_age)
    assert not _one(batch, expect.mean_between("age", hi=30)).success
    # NaN is left out of the mean of a float column.
    finite = [1.5, 2.5, 3.5, 4.5, 2.0, 3.0, 1.0, 2.5, 3.5]
    assert _one(batch, expect.mean_between("rating", 0, 5)).observed == pytest.approx(sum(finite) / len(finite))


def test_row_count_between(batch: pa.Table) -> None:
    assert _one(batch, expect.row_count_between(10, 10)).success
    result = _one(batch, expect.row_count_between(lo=11))
    assert not result.success and result.observed == 10 and result.failed_rows is None
    assert not _one(batch, expect.row_count_between(hi=9)).success


def test_predicate(batch: pa.Table) -> None:
    assert _one(batch, expect.predicate("age >= 16 AND pid < 100")).success
    nan = _one(batch, expect.predicate("rating < 100"))  # NaN sorts above every number in DuckDB
    assert nan.failed_rows == 1 and _rows(nan) == [7]
    result = _one(batch, expect.predicate("age >= 18 AND lower(team) <> 'pink'"))
    assert result.failed_rows == 2 and _rows(result) == [3, 9]
    assert _one(batch, expect.predicate("active")).failed_rows == 2  # a boolean column is a predicate
    assert _one(batch, expect.predicate("AGE > 0")).success  # SQL names are case-insensitive


def test_nulls_pass_everything_but_not_null() -> None:
    table = pa.table({"v": pa.array([None, None], pa.int64()), "s": pa.array([None, None], pa.string())})
    for rule in [
        expect.between("v", 1, 2),
        expect.in_set("v", [1]),
        expect.matches("s", "x"),
        expect.predicate("v > 100"),
        expect.unique("v"),
        expect.mean_between("v", 1, 2),
    ]:
        assert _one(table, rule).success, rule
    assert _one(table, expect.not_null("v")).failed_rows == 2
    assert not _one(table, expect.max_null_fraction("v", 0.5)).success


def test_empty_batch() -> None:
    table = pa.table({"v": pa.array([], pa.float64())})
    report = validate(
        table,
        [
            expect.not_null("v"),
            expect.between("v", 0, 1),
            expect.max_null_fraction("v", 0),
            expect.mean_between("v", 0, 1),
            expect.predicate("v > 0"),
        ],
    )
    assert report.success and report.row_count == 0
    assert [r.observed for r in report.results] == [None, None, None, None, None]
    assert not _one(table, expect.row_count_between(lo=1)).success


def test_sample_is_capped_ordered_and_json_safe() -> None:
    n = 50
    table = pa.table(
        {
            "v": pa.array(range(n), pa.int64()),
            "ts": pa.array([dt.datetime(2026, 1, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
            "d": pa.array([decimal.Decimal("1.50")] * n, pa.decimal128(5, 2)),
            "b": pa.array([b"\x00\xff"] * n),
            "l": pa.array([[1.0, float("inf")]] * n),
        }
    )
    result = _one(table, expect.between("v", hi=9))
    assert result.failed_rows == 40
    assert _rows(result) == [10, 11, 12, 13, 14]
    first = result.sample[0]
    assert first == {
        ROW_KEY: 10,
        "v": 10,
        "ts": "2026-01-01T00:00:00+00:00",
        "d": "1.50",
        "b": "00ff",
        "l": [1.0, "inf"],
    }
    json.dumps(result.to_dict(), allow_nan=False)
    assert _one(table, expect.between("v", hi=9), sample_size=2).sample == result.sample[:2]
    assert _one(table, expect.between("v", hi=9), sample_size=0).sample == []


def test_odd_column_names_are_quoted() -> None:
    table = pa.table({'we"ird name': [1, None], "select": [1, 2]})
    assert _one(table, expect.not_null('we"ird name')).failed_rows == 1
    assert _one(table, expect.predicate('"we""ird name" > 0 OR "select" = 2')).success
    assert _one(table, expect.unique("select")).success


# --- the report -------------------------------------------------------------------------------


def test_report_round_trip_str_and_strict_mode(batch: pa.Table) -> None:
    rules = [
        expect.not_null("pid"),
        expect.between("age", 18, 120),
        expect.mean_between("age", 50, 60),
        expect.unique("pid"),
    ]
    report = validate(batch, rules)
    assert not report.success
    assert [r.success for r in report.results] == [True, False, False, False]
    assert [r.rule for r in report.failures] == ["between", "mean_between", "unique"]
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert ValidationReport.from_dict(data) == report
    assert data["results"][1]["kwargs"] == {"col": "age", "lo": 18, "hi": 120}
    text = str(report)
    assert text.startswith("Validation failed: 3 of 4 expectations failed on 10 rows.")
    assert "FAILED  between(col='age', lo=18, hi=120): 1 of 10 rows (10.00%)" in text
    assert "row 3: {'pid': 3, 'age': 16," in text
    assert "FAILED  mean_between(col='age', lo=50, hi=60): observed 32.3" in text
    assert "passed  not_null(col='pid')" in text
    with pytest.raises(ValidationError) as raised:
        report.raise_for_failure()
    assert raised.value.report is report and "between" in raised.value.message
    ok = validate(batch, rules[:1])
    ok.raise_for_failure()
    assert str(ok).startswith("Validation passed: 1 expectations on 10 rows.")
    with pytest.raises(ValidationError):
        ValidationReport.from_dict({"results": []})


def test_no_expectations_and_dict_expectations(batch: pa.Table) -> None:
    assert validate(batch, []).success
    report = validate(batch, [{"rule": "not_null", "kwargs": {"col": "age"}}])
    assert report.results[0].failed_rows == 1


ALL_RULES = [
    expect.not_null("a"),
    expect.unique(["a", "b"]),
    expect.unique("a"),
    expect.between("a", 1, 2.5),
    expect.between("t", lo=dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    expect.between("d", hi=dt.date(2026, 1, 1)),
    expect.in_set("s", ["x", "y", None]),
    expect.matches("s", r"^\w+$"),
    expect.max_null_fraction("a", 0.25),
    expect.mean_between("a", -1, None),
    expect.row_count_between(1, 10),
    expect.predicate("a > 1 AND s LIKE 'x%'"),
]


@pytest.mark.parametrize("rule", ALL_RULES, ids=repr)
def test_expectation_round_trip(rule: Expectation) -> None:
    data = json.loads(json.dumps(rule.to_dict(), allow_nan=False))
    back = Expectation.from_dict(data)
    assert back == rule and hash(back) == hash(rule) and repr(back) == repr(rule)
    assert repr(rule).startswith(f"{rule.name}(")
    assert data["rule"] == rule.name and data["kwargs"] == rule.kwargs


def test_expectation_repr_and_kwargs() -> None:
    rule = expect.between("age", 0, 120)
    assert (rule.name, rule.kwargs, repr(rule)) == (
        "between",
        {"col": "age", "lo": 0, "hi": 120},
        "between(col='age', lo=0, hi=120)",
    )
    plus_two = dt.timezone(dt.timedelta(hours=2))
    aware = expect.between("t", lo=dt.datetime(2026, 1, 1, 2, tzinfo=plus_two))
    assert aware.kwargs["lo"] == "2026-01-01T00:00:00+00:00"  # stored in UTC
    assert expect.unique("a").kwargs == {"cols": ["a"]}
    assert expect.in_set("a", [1, True, 1]).kwargs["values"] == [1, True]
    assert expect.predicate("a > 1").columns == ["a"]


@pytest.mark.parametrize(
    "data",
    [
        {"rule": "no_such_rule", "kwargs": {}},
        {"rule": "not_nul", "kwargs": {"col": "a"}},
        {"rule": "not_null", "kwargs": {"column": "a"}},
        {"rule": "between", "kwargs": {"col": "a", "lo": 3, "hi": 1}},
        {"rule": "predicate", "kwargs": {"expression": "(SELECT 1)"}},
        {"rule": "not_null", "kwargs": ["a"]},
        {"kwargs": {}},
        "not_null",
    ],
)
def test_from_dict_rejects_bad_data(data: Any) -> None:
    with pytest.raises(ValidationError):
        Expectation.from_dict(data)


# --- bad rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: expect.between("a", 5, 1),
        lambda: expect.between("a", None, None),
        lambda: expect.between("a", "b", "a"),
        lambda: expect.between("a", 1, "z"),
        lambda: expect.between("a", float("nan"), 1),
        lambda: expect.between("a", [1], 2),
        lambda: expect.between("a", "2026-02-01", "2026-01-01"),
        lambda: expect.mean_between("a", 2, 1),
        lambda: expect.mean_between("a", "1", 2),
        lambda: expect.row_count_between(-1, 5),
        lambda: expect.row_count_between(5, 1),
        lambda: expect.row_count_between(1.5, 2),
        lambda: expect.max_null_fraction("a", 1.5),
        lambda: expect.max_null_fraction("a", -0.1),
        lambda: expect.in_set("a", []),
        lambda: expect.in_set("a", [None]),
        lambda: expect.in_set("a", "abc"),
        lambda: expect.matches("a", "("),
        lambda: expect.matches("a", "[a-"),
        lambda: expect.matches("a", 5),
        lambda: expect.not_null(""),
        lambda: expect.not_null(3),
        lambda: expect.unique([]),
    ],
)
def test_bad_rules_raise_at_construction(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def test_naive_datetime_bound_is_a_timezone_error() -> None:
    with pytest.raises(TimezoneError, match="naive"):
        expect.between("ts", dt.datetime(2026, 1, 1), None)


def test_unknown_column_names_the_closest(batch: pa.Table) -> None:
    with pytest.raises(ValidationError, match="'agee'.*Did you mean 'age'"):
        validate(batch, [expect.not_null("agee")])
    with pytest.raises(ValidationError, match="'ratng'.*'rating'"):
        validate(batch, [expect.predicate("ratng > 1")])
    with pytest.raises(ValidationError, match="'nope'"):
        validate(batch, [expect.unique(["pid", "nope"])])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (expect.between("team", 1, 2), "cannot be compared with column 'team'"),
        (expect.between("age", "a", "b"), "use numbers"),
        (expect.in_set("active", ["yes"]), "True or False"),
        (expect.between("joined", "yesterday", None), "ISO-8601"),
        (expect.matches("age", "1"), "needs a string column"),
        (expect.mean_between("team", 0, 1), "needs a numeric column"),
        (expect.predicate("age > 0 AND team"), "failed to evaluate"),  # 'red' is no boolean
        (expect.predicate("age"), "not BOOLEAN"),
        (expect.predicate("lower(age) = 'x'"), "cannot be checked"),
        (expect.predicate("CAST(team AS INTEGER) > 0"), "failed to evaluate"),
    ],
    ids=repr,
)
def test_rules_that_do_not_fit_the_batch(batch: pa.Table, rule: Expectation, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate(batch, [expect.not_null("pid"), rule])


# --- predicate safety -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1; DROP TABLE x",
        "age > 1; DROP TABLE x",
        "(SELECT 1)",
        "age IN (SELECT pid FROM lakebox_batch)",
        "EXISTS (SELECT 1)",
        "age = ANY (SELECT 1)",
        "read_csv('/etc/passwd') IS NOT NULL",
        "read_text('/etc/passwd') = ''",
        "getvariable('x') = 1",
        "current_setting('threads') = '1'",
        "count(*) > 1",
        "sum(age) OVER () > 1",
        "t.age > 1",
        "main.t.age > 1",
        "age = $1",
        "age = ?",
        "SELECT age FROM t",
        "DROP TABLE x",
        "ATTACH 'x.db'",
        "INSTALL httpfs",
        "1",
        "age + 1",
        "'text'",
        "NULL",
        "CAST(age AS VARCHAR)",
        "",
        "   ",
        "age >",
        "list_transform([1], x -> x + 1) IS NOT NULL",
        "*",
        "age::BOOLEAN AND",
        "(" * 300 + "age > 1" + ")" * 300,
    ],
)
def test_predicate_rejects_unsafe_or_malformed_text(text: str) -> None:
    with pytest.raises(ValidationError):
        expect.predicate(text)


def test_predicate_error_messages_say_why() -> None:
    with pytest.raises(ValidationError, match="read_csv.*not allowed"):
        expect.predicate("read_csv('/etc/passwd') IS NOT NULL")
    with pytest.raises(ValidationError, match="subqueries"):
        expect.predicate("(SELECT 1)")
    with pytest.raises(ValidationError, match="one boolean expression, not 2 statements"):
        expect.predicate("1; DROP TABLE x")
    with pytest.raises(ValidationError, match="not a boolean expression"):
        expect.predicate("age + 1")
    with pytest.raises(ValidationError, match="qualified"):
        expect.predicate("t.age > 1")
    with pytest.raises(ValidationError):
        expect.predicate(42)  # type: ignore[arg-type]


def test_predicate_comments_cannot_smuggle_sql(batch: pa.Table) -> None:
    rule = expect.predicate("age > 0 -- */ ; DROP TABLE lakebox_batch; /*")
    assert _one(batch, rule).success
    rule = expect.predicate("age > 0 /* ; SELECT 1 */")
    assert _one(batch, rule).success


@pytest.mark.parametrize(
    "text",
    [
        "abs(rating - 2) <= 10 AND sign(age) = 1",
        "round(rating, 1) >= 0 AND floor(rating) <= ceil(rating) AND trunc(rating) >= 0",
        "sqrt(age) > 0 AND ln(age) > 0 AND log(age) > 0 AND exp(0) = 1 AND power(age, 2) > 0",
        "age % 2 IN (0, 1) AND mod(age, 2) < 2 AND age // 2 >= 0 AND age ** 1 > 0",
        "greatest(age, 0) >= least(age, 100) OR age > 0",
        "coalesce(team, 'none') <> '' AND nullif(team, 'x') IS NOT NULL",
        "NOT isnan(rating) OR isinf(rating) OR isfinite(rating)",
        "lower(team) = team AND upper(team) <> team AND length(team) > 0 AND strlen(team) > 0",
        "trim(team) = ltrim(rtrim(team)) AND substring(team, 1, 1) = left(team, 1) AND right(team, 1) <> ''",
        "concat(team, '!') LIKE '%!' AND team || '?' ILIKE '%?' AND replace(team, 'r', 'R') <> ''",
        "starts_with(email, '') AND ends_with(email, '') AND contains(email, '@') OR email IS NULL",
        "regexp_matches(email, '@') AND regexp_full_match(email, '.+@.+') OR email NOT LIKE '%@%'",
        "year(joined) = 2026 AND month(joined) = 1 AND day(joined) > 0 AND hour(joined) = 0",
        "minute(joined) = 0 AND dayofweek(joined) >= 0 AND extract(year FROM joined) = 2026",
        "date_part('year', born) >= 2000 AND joined <= now() + INTERVAL 1000 DAY",
        "joined < current_timestamp + INTERVAL 3650 DAY AND born < current_date",
        "CASE WHEN age > 50 THEN rating < 10 ELSE TRUE END",
        "CAST(age AS DOUBLE) > 0 AND TRY_CAST(team AS INTEGER) IS NULL AND age::VARCHAR <> ''",
        "age BETWEEN 0 AND 200 AND age NOT BETWEEN 300 AND 400",
        "age IS DISTINCT FROM 1000 AND active IS NOT FALSE OR active IS NULL OR NOT active",
        "-age < 0 AND +age > 0 AND age / 2 > 0 AND age * 2 > 0 AND age - 1 >= 0",
        "TRUE",
        "(age > 0)",
    ],
)
def test_allowed_predicates_run_in_duckdb(batch: pa.Table, text: str) -> None:
    result = _one(batch, expect.predicate(text))
    assert result.failed_rows is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_predicate_on_arbitrary_text_constructs_or_raises_validation_error(text: str) -> None:
    try:
        expect.predicate(text)
    except ValidationError:
        pass


# fmt: off
_TOKENS = st.sampled_from(
    [
        "age", "team", "1", "2.5", "'a'", "(", ")", ",", "AND", "OR", "NOT", "=", "<", ">=", "+", "*", "IN",
        "BETWEEN", "IS", "NULL", "LIKE", "SELECT", "FROM", ";", "abs", "lower", "read_csv", "CAST", "AS",
        "INTEGER", "::", "CASE", "WHEN", "THEN", "END", "$1", "?", "t.x", "[", "]", "->", "EXISTS",
        "INTERVAL", "DAY", '"q"', "--", "/*", "*/", "TRUE", "||", "%",
    ]
)
# fmt: on


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, max_size=12).map(" ".join))
def test_predicate_on_sql_like_text_is_safe_end_to_end(text: str) -> None:
    """Whatever constructs either validates or raises ValidationError; nothing else escapes."""
    table = pa.table({"age": [1, None, 30], "team": ["a", None, "b"]})
    try:
        rule = expect.predicate(text)
    except ValidationError:
        return
    try:
        validate(table, [rule])
    except ValidationError:
        pass
