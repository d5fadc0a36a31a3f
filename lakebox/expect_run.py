"""Checking expectations against a batch (``lakebox.expect.validate``): one DuckDB pass for
the aggregates, one more per failing row rule for its sample. SQL is built as sqlglot trees
(columns quoted identifiers, values literals); see ``lakebox.expect`` for the semantics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import TimezoneError, ValidationError
from lakebox.expect import (
    _BATCH,
    ROW_KEY,
    SAMPLE_SIZE,
    Expectation,
    ExpectationResult,
    ValidationReport,
    _as_instant,
    _first_line,
)
from lakebox.names import closest
from lakebox.offline.reader import connect


@dataclass
class _Check:
    """One expectation compiled against a batch: SQL pieces for the aggregate pass."""

    expectation: Expectation
    violation: exp.Expr | None = None  # row rules: true for an offending row of source
    aggregate: exp.Expr | None = None  # aggregate rules: the observed value
    source: exp.Expr = field(default_factory=lambda: exp.to_identifier(_BATCH, quoted=True))

    @property
    def shared(self) -> bool:
        """True when the check reads the batch itself (and joins the one aggregate pass)."""
        return isinstance(self.source, exp.Identifier)


def run(
    table: pa.Table, expectations: Iterable[Expectation | Mapping[str, Any]], sample_size: int = SAMPLE_SIZE
) -> ValidationReport:
    """Check ``expectations`` against ``table``; never raises for data that breaks a rule.

    Raises ``ValidationError`` for a rule that cannot be checked against this batch (a column
    it does not have, a bound of the wrong type, a predicate that is not boolean here).
    """
    rules = [e if isinstance(e, Expectation) else Expectation.from_dict(e) for e in expectations]
    batch, schema = _prepared(table)
    row_key = ROW_KEY
    while any(name.startswith(row_key) for name in schema):  # "$row" and "$rowdup<i>" must be free
        row_key = "$" + row_key
    checks = [_compile(rule, f"{row_key}dup{i}", schema) for i, rule in enumerate(rules)]
    n = table.num_rows
    if not checks:
        return ValidationReport(success=True, row_count=n)

    con = connect()
    try:
        con.register(_BATCH, batch.append_column(row_key, pa.array(np.arange(n, dtype=np.int64))))
        for check in checks:
            if check.expectation.name == "predicate":
                _check_boolean(con, check)
        observed = _run_aggregates(con, checks)
        results = [_result(check, value, n) for check, value in zip(checks, observed, strict=True)]
        for check, result in zip(checks, results, strict=True):
            if not result.success and check.violation is not None and sample_size > 0:
                result.sample = _sample(con, check, schema, row_key, sample_size)
    finally:
        con.close()
    return ValidationReport(success=all(r.success for r in results), row_count=n, results=results)


def _prepared(table: pa.Table) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """The batch with types DuckDB reads as lakebox means them (dictionaries decoded)."""
    columns, fields = [], []
    for f, column in zip(table.schema, table.columns, strict=True):
        dtype = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if pa.types.is_float16(dtype):
            dtype = pa.float32()
        elif pa.types.is_string_view(dtype):
            dtype = pa.string()
        columns.append(column.cast(dtype) if dtype != column.type else column)
        fields.append(pa.field(f.name, dtype))
    prepared = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    return prepared, {f.name: f.type for f in fields}


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _resolve(name: str, schema: Mapping[str, pa.DataType], rule: Expectation) -> str:
    if name in schema:
        return name
    folded = [c for c in schema if c.lower() == name.lower()]
    if len(folded) == 1:  # DuckDB folds case, as SQL does
        return folded[0]
    hint = closest(name, schema)
    also = f" Did you mean {', '.join(map(repr, hint))}?" if hint else f" Columns: {sorted(schema)}."
    raise ValidationError(
        f"Expectation {rule!r} refers to column {name!r}, which the batch does not have.{also}",
        column=name,
        rule=rule.name,
    )


def _compile(rule: Expectation, alias: str, schema: Mapping[str, pa.DataType]) -> _Check:
    """SQL for one rule; ``alias`` names its duplicate count (``unique``), free in ``schema``."""
    kw = rule.kwargs
    check = _Check(rule)
    name = rule.name
    if name == "row_count_between":
        check.aggregate = exp.Count(this=exp.Star())
        return check
    if name == "predicate":
        assert rule._tree is not None
        tree = rule._tree.copy()
        for column in tree.find_all(exp.Column):
            column.set("this", exp.to_identifier(_resolve(column.name, schema, rule), quoted=True))
        check.violation = exp.Not(this=exp.Paren(this=tree))
        return check
    if name == "unique":
        # Rows whose key (all columns non-null) occurs more than once, counted over a window
        # that reads the key columns only (the sample query reads the whole rows).
        cols = [_resolve(c, schema, rule) for c in kw["cols"]]
        present = exp.and_(*[exp.Not(this=exp.Is(this=_col(c), expression=exp.Null())) for c in cols])
        count = exp.Window(this=exp.Count(this=exp.Star()), partition_by=[_col(c) for c in cols])
        check.source = (
            exp.select(exp.Star(), exp.alias_(count, alias, quoted=True))
            .from_(exp.to_identifier(_BATCH, quoted=True))
            .where(present)
            .subquery("lakebox_keys")
        )
        check.violation = exp.GT(this=_col(alias), expression=exp.Literal.number(1))
        return check
    col = _resolve(kw["col"], schema, rule)
    dtype = schema[col]
    if name == "not_null":
        check.violation = exp.Is(this=_col(col), expression=exp.Null())
    elif name == "max_null_fraction":
        check.aggregate = exp.Filter(
            this=exp.Count(this=exp.Star()),
            expression=exp.Where(this=exp.Is(this=_col(col), expression=exp.Null())),
        )
    elif name == "between":
        parts: list[exp.Expr] = []
        if kw["lo"] is not None:
            parts.append(exp.LT(this=_col(col), expression=_literal(kw["lo"], dtype, rule, col)))
        if kw["hi"] is not None:
            parts.append(exp.GT(this=_col(col), expression=_literal(kw["hi"], dtype, rule, col)))
        check.violation = exp.or_(*parts)
    elif name == "in_set":
        # col = ANY([...]) is a hash lookup in DuckDB, several times faster than a long IN list.
        members = exp.Array(expressions=[_literal(v, dtype, rule, col) for v in kw["values"] if v is not None])
        check.violation = exp.Not(this=exp.EQ(this=_col(col), expression=exp.Any(this=exp.Paren(this=members))))
    elif name == "matches":
        if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
            raise ValidationError(f"Expectation {rule!r} needs a string column; {col!r} holds {dtype}.", column=col)
        check.violation = exp.Not(this=exp.RegexpFullMatch(this=_col(col), expression=exp.Literal.string(kw["regex"])))
    elif name == "mean_between":
        if not _is_numeric(dtype):
            raise ValidationError(f"Expectation {rule!r} needs a numeric column; {col!r} holds {dtype}.", column=col)
        value = exp.Cast(this=_col(col), to=exp.DataType.build("DOUBLE"))
        average: exp.Expr = exp.Avg(this=value)
        if pa.types.is_floating(dtype):
            finite = exp.Anonymous(this="isfinite", expressions=[_col(col)])
            average = exp.Filter(this=average, expression=exp.Where(this=finite))
        check.aggregate = average
    else:  # pragma: no cover - RULES and _compile are kept in step
        raise ValidationError(f"Unknown expectation rule {name!r}.")
    return check


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def _literal(value: Any, dtype: pa.DataType, rule: Expectation, col: str) -> exp.Expr:
    """``value`` as an SQL literal of ``col``'s type, or a clear error if it cannot be one."""
    t = pa.types

    def wrong(expected: str) -> ValidationError:
        return ValidationError(
            f"Expectation {rule!r}: {value!r} cannot be compared with column {col!r} of type {dtype}; use {expected}.",
            column=col,
        )

    if _is_numeric(dtype):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("numbers")
        return exp.convert(value)
    if t.is_boolean(dtype):
        if not isinstance(value, bool):
            raise wrong("True or False")
        return exp.Boolean(this=value)
    if t.is_string(dtype) or t.is_large_string(dtype):
        if not isinstance(value, str):
            raise wrong("strings")
        return exp.Literal.string(value)
    if t.is_date(dtype) or t.is_timestamp(dtype):
        instant = _as_instant(value) if isinstance(value, str) else None
        if instant is None:
            raise wrong("ISO-8601 strings, dates or aware datetimes")
        if t.is_date(dtype):
            day = instant.date() if isinstance(instant, datetime) else instant
            return exp.Cast(this=exp.Literal.string(day.isoformat()), to=exp.DataType.build("DATE"))
        aware = dtype.tz is not None
        if aware and (not isinstance(instant, datetime) or instant.tzinfo is None):
            raise TimezoneError(
                f"Expectation {rule!r}: {value!r} has no UTC offset but column {col!r} holds instants; "
                "write it with an offset, e.g. '2026-01-01T00:00:00+00:00'.",
                column=col,
            )
        if not isinstance(instant, datetime):
            instant = datetime(instant.year, instant.month, instant.day)
        if aware:  # canonical UTC text, which DuckDB parses whatever offset was written
            text = instant.astimezone(UTC).isoformat()
        else:
            text = instant.replace(tzinfo=None).isoformat() if instant.tzinfo is None else instant.isoformat()
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("TIMESTAMPTZ" if aware else "TIMESTAMP"))
    raise ValidationError(f"Expectation {rule!r} cannot check column {col!r} of type {dtype}.", column=col)


def _check_boolean(con: duckdb.DuckDBPyConnection, check: _Check) -> None:
    """Bind the predicate in DuckDB: it must type-check and be BOOLEAN over this batch."""
    assert isinstance(check.violation, exp.Not)
    expression = check.violation.this
    query = exp.select(exp.alias_(expression.copy(), "p", quoted=True)).from_(exp.to_identifier(_BATCH, quoted=True))
    try:
        described = con.sql("DESCRIBE " + query.sql(dialect="duckdb", comments=False)).fetchall()
    except duckdb.Error as e:
        raise ValidationError(
            f"Expectation {check.expectation!r} cannot be checked against this batch: {_first_line(e)}"
        ) from e
    kind = described[0][1]
    if kind != "BOOLEAN":
        raise ValidationError(
            f"Expectation {check.expectation!r} is of type {kind}, not BOOLEAN: write a condition such as 'age >= 18'."
        )


def _run_aggregates(con: duckdb.DuckDBPyConnection, checks: Sequence[_Check]) -> list[Any]:
    """Each check's failing-row count or observed aggregate: one pass for every check that reads
    the batch directly, plus one narrow pass per ``unique`` rule."""
    values: list[Any] = [None] * len(checks)
    items: list[exp.Expr] = []
    shared = [i for i, check in enumerate(checks) if check.shared]
    for i in shared:
        items.append(exp.alias_(_observation(checks[i]), f"r{i}", quoted=True))
    if items:
        query = exp.select(*items).from_(exp.to_identifier(_BATCH, quoted=True))
        row = _fetch_one(con, query, checks)
        for i, value in zip(shared, row, strict=True):
            values[i] = value
    for i, check in enumerate(checks):
        if not check.shared:
            values[i] = _fetch_one(con, exp.select(_observation(check)).from_(check.source.copy()), [check])[0]
    return values


def _observation(check: _Check) -> exp.Expr:
    if check.violation is not None:
        return exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=check.violation.copy()))
    assert check.aggregate is not None
    return check.aggregate.copy()


def _fetch_one(con: duckdb.DuckDBPyConnection, query: exp.Select, checks: Sequence[_Check]) -> tuple[Any, ...]:
    try:
        return tuple(con.sql(query.sql(dialect="duckdb", comments=False)).fetchall()[0])
    except duckdb.Error as e:
        raise _locate_failure(con, checks, e) from e


def _locate_failure(con: duckdb.DuckDBPyConnection, checks: Sequence[_Check], error: duckdb.Error) -> ValidationError:
    """The rule whose check failed in DuckDB (a cast of bad data, say), as a ValidationError."""
    for check in checks:
        probe = exp.select(_observation(check)).from_(check.source.copy())
        try:
            con.sql(probe.sql(dialect="duckdb", comments=False)).fetchall()
        except duckdb.Error as e:
            return ValidationError(f"Expectation {check.expectation!r} failed to evaluate: {_first_line(e)}")
    return ValidationError(f"Checking expectations failed in DuckDB: {_first_line(error)}")


def _result(check: _Check, value: Any, n: int) -> ExpectationResult:
    rule = check.expectation
    kw = rule.kwargs
    result = ExpectationResult(rule=rule.name, kwargs=rule.to_dict()["kwargs"], success=True)
    if check.violation is not None:
        result.failed_rows = int(value or 0)
        result.success = result.failed_rows == 0
    elif rule.name == "row_count_between":
        result.observed = int(value)
        result.success = _within(result.observed, kw["lo"], kw["hi"])
    elif rule.name == "max_null_fraction":
        result.observed = int(value) / n if n else None
        result.success = result.observed is None or result.observed <= kw["fraction"]
    elif rule.name == "mean_between":
        mean = None if value is None or not math.isfinite(float(value)) else float(value)
        result.observed = mean
        result.success = mean is None or _within(mean, kw["lo"], kw["hi"])
    return result


def _within(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _sample(
    con: duckdb.DuckDBPyConnection,
    check: _Check,
    schema: Mapping[str, pa.DataType],
    row_key: str,
    size: int,
) -> list[dict[str, Any]]:
    assert check.violation is not None
    query = (
        exp.select(_col(row_key), *[_col(c) for c in schema])
        .from_(check.source.copy())
        .where(check.violation.copy())
        .order_by(_col(row_key))
        .limit(size)
    )
    rows = con.sql(query.sql(dialect="duckdb", comments=False)).to_arrow_table().to_pylist()
    out = []
    for row in rows:
        position = row.pop(row_key)
        out.append({ROW_KEY: position, **{k: _jsonable(v) for k, v in row.items()}})
    return out


def _jsonable(value: Any) -> Any:
    """A sample value as plain JSON (dates ISO, NaN/inf as strings, bytes as hex)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
