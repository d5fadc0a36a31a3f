"""Expectations: data validation rules checked against a batch before it is written.

Each rule function returns an :class:`Expectation` (plain data: a rule name and JSON keyword
arguments, stored with the feature group); :func:`validate` checks a list of them against an Arrow
table in DuckDB and returns a :class:`ValidationReport`.

    >>> import pyarrow as pa
    >>> from lakebox import expect
    >>> report = expect.validate(pa.table({"age": [17, 30, None]}),
    ...                          [expect.not_null("age"), expect.between("age", 18, 120)])
    >>> [(r.rule, r.success, r.failed_rows) for r in report.results]
    [('not_null', False, 1), ('between', False, 1)]

Semantics:

- Row rules (``not_null``, ``unique``, ``between``, ``in_set``, ``matches``, ``predicate``) count
  the rows that break them (``failed_rows``) and keep up to five of them as a ``sample``.
- NULL passes every rule except ``not_null`` and ``max_null_fraction``, like an SQL ``CHECK``
  constraint: ``between``, ``in_set``, ``matches`` and ``predicate`` (whose result is NULL for a
  NULL input) let it through, and ``unique`` ignores rows with a NULL in any of its columns
  (SQL ``UNIQUE``). Reject nulls explicitly with ``not_null`` or ``max_null_fraction``.
- NaN is a value, not a null: it fails ``between`` (DuckDB orders NaN above every number).
- Aggregate rules (``max_null_fraction``, ``mean_between``, ``row_count_between``) report the
  ``observed`` value; ``failed_rows`` is ``None``. An undefined aggregate (the mean of no finite
  values, the null fraction of an empty batch) passes, like a NULL; ``row_count_between``
  catches empty batches. ``mean_between`` averages finite values only.
- Bounds are inclusive; either may be ``None``, not both. Dates and timestamps compare with ISO
  strings (a ``datetime`` must be timezone-aware; it is stored as a UTC ISO string).
- ``unique`` counts every row of a duplicated key, not just the extra copies.

Checks run in one DuckDB pass over the batch (one more per failing row rule, for its sample).
SQL is built as sqlglot trees: columns are quoted identifiers and values literals. A
``predicate`` is parsed with sqlglot (DuckDB dialect) and accepted only if it is one boolean
expression over the batch's own columns built from an allow-list of operators and scalar
functions: no statements, subqueries, table references, parameters or other functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from lakebox.errors import TimezoneError, ValidationError
from lakebox.names import closest
from lakebox.offline.reader import connect

__all__ = [
    "Expectation",
    "ExpectationResult",
    "ValidationReport",
    "between",
    "in_set",
    "matches",
    "max_null_fraction",
    "mean_between",
    "not_null",
    "predicate",
    "row_count_between",
    "unique",
    "validate",
]

SAMPLE_SIZE = 5
ROW_KEY = "$row"  # the row position in a sample; "$" keeps it apart from feature names
MAX_PREDICATE_LENGTH = 10_000
MAX_PREDICATE_DEPTH = 64
_BATCH = "lakebox_batch"

RULES: dict[str, Callable[..., Expectation]] = {}


class Expectation:
    """One validation rule: ``name`` (the rule function) and its JSON ``kwargs``.

    Build them with the rule functions of this module (``not_null("age")``); they compare equal
    when name and arguments are equal, and ``Expectation.from_dict(e.to_dict()) == e``.
    """

    __slots__ = ("_tree", "kwargs", "name")

    def __init__(self, name: str, kwargs: dict[str, Any], tree: exp.Expr | None = None) -> None:
        self.name = name
        self.kwargs = kwargs
        self._tree = tree  # the parsed predicate

    @property
    def columns(self) -> list[str]:
        """The columns this rule reads (as written)."""
        if self._tree is not None:
            return list(dict.fromkeys(c.name for c in self._tree.find_all(exp.Column)))
        if "cols" in self.kwargs:
            return list(self.kwargs["cols"])
        return [self.kwargs["col"]] if "col" in self.kwargs else []

    @property
    def aggregate(self) -> bool:
        """True for rules on a whole-batch aggregate (no failing rows to count)."""
        return self.name in _AGGREGATE_RULES

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.name, "kwargs": json.loads(json.dumps(self.kwargs))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectation:
        """Rebuild (and re-check) a stored expectation: ``{"rule": ..., "kwargs": {...}}``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("rule"), str):
            raise ValidationError(f"A stored expectation is a dict with 'rule' and 'kwargs'; got {data!r}.")
        rule = RULES.get(data["rule"])
        if rule is None:
            hint = closest(data["rule"], RULES)
            raise ValidationError(
                f"Unknown expectation rule {data['rule']!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; rules are {sorted(RULES)}.")
            )
        kwargs = data.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ValidationError(f"The kwargs of expectation {data['rule']!r} must be a dict; got {kwargs!r}.")
        try:
            return rule(**kwargs)
        except TypeError as e:
            raise ValidationError(f"Bad arguments for expectation {data['rule']!r}: {e}") from e

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.kwargs.items())
        return f"{self.name}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expectation):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))


def _rule(function: Callable[..., Expectation]) -> Callable[..., Expectation]:
    RULES[function.__name__] = function
    return function


# --- argument checks -----------------------------------------------------------------------


def _column(col: object, rule: str) -> str:
    if not isinstance(col, str) or not col:
        raise ValidationError(f"{rule}() needs a column name (a non-empty string); got {col!r}.")
    return col


def _scalar(value: object, rule: str, what: str) -> Any:
    """A bound or set member as a JSON value (dates and timestamps become ISO strings)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{rule}(): {what} must be a finite number, got {value!r}.")
        return value
    if isinstance(value, Decimal):
        return _scalar(float(value), rule, what)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TimezoneError(
                f"{rule}(): {what} {value!r} is a naive datetime. lakebox compares instants in UTC and will "
                "not guess a zone: pass an aware datetime, e.g. value.replace(tzinfo=timezone.utc)."
            )
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise ValidationError(
        f"{rule}(): {what} must be a number, string, boolean, date or datetime; got {type(value).__name__} {value!r}."
    )


def _ordered(lo: Any, hi: Any, rule: str) -> None:
    if lo is None and hi is None:
        raise ValidationError(f"{rule}() needs at least one bound (lo or hi); both are None.")
    if lo is None or hi is None:
        return
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
    if numbers or (isinstance(lo, str) and isinstance(hi, str)):
        a, b = lo, hi
        if isinstance(lo, str):
            a, b = _as_instant(lo), _as_instant(hi)
            if a is None or b is None or (isinstance(a, datetime) != isinstance(b, datetime)):
                a, b = lo, hi
        try:
            wrong = a > b
        except TypeError:  # one aware and one naive ISO string: DuckDB decides
            wrong = False
        if wrong:
            raise ValidationError(f"{rule}(): lo {lo!r} is greater than hi {hi!r}; nothing could pass.")
    elif type(lo) is not type(hi) and not (isinstance(lo, (int, float)) and isinstance(hi, (int, float))):
        raise ValidationError(f"{rule}(): lo {lo!r} and hi {hi!r} are of different kinds.")


def _as_instant(text: str) -> date | datetime | None:
    for parse in (datetime.fromisoformat, date.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def _number(value: object, rule: str, what: str, integer: bool = False) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    kinds: tuple[type, ...] = (int,) if integer else (int, float, Decimal)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValidationError(f"{rule}(): {what} must be {'an integer' if integer else 'a number'}; got {value!r}.")
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{rule}(): {what} must be finite; got {value!r}.")
    return cast("float | int", value)  # an int, float or Decimal (made a float), as checked above


# --- the rules ----------------------------------------------------------------------------


@_rule
def not_null(col: str) -> Expectation:
    """Every value of ``col`` is present (no NULL)."""
    return Expectation("not_null", {"col": _column(col, "not_null")})


@_rule
def unique(cols: str | Sequence[str]) -> Expectation:
    """No two rows share the same value of ``cols`` (a column or a list); NULL keys are ignored."""
    names = [cols] if isinstance(cols, str) else cols
    if not isinstance(names, Sequence) or not names:
        raise ValidationError(f"unique() needs a column or a non-empty list of columns; got {cols!r}.")
    checked = list(dict.fromkeys(_column(c, "unique") for c in names))
    return Expectation("unique", {"cols": checked})


@_rule
def between(col: str, lo: Any = None, hi: Any = None) -> Expectation:
    """``lo <= col <= hi`` for every non-null value (either bound may be None)."""
    low, high = _scalar(lo, "between", "lo"), _scalar(hi, "between", "hi")
    _ordered(low, high, "between")
    return Expectation("between", {"col": _column(col, "between"), "lo": low, "hi": high})


@_rule
def in_set(col: str, values: Iterable[Any]) -> Expectation:
    """Every non-null value of ``col`` is one of ``values``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValidationError(f"in_set() takes a list of values; got {values!r}.")
    members: list[Any] = []
    seen: set[tuple[str, Any]] = set()
    for value in values:
        member = _scalar(value, "in_set", "each value")
        if (type(member).__name__, member) not in seen:  # 1 and True stay apart
            seen.add((type(member).__name__, member))
            members.append(member)
    if not [v for v in members if v is not None]:
        raise ValidationError("in_set() needs at least one non-null value (NULL passes anyway).")
    return Expectation("in_set", {"col": _column(col, "in_set"), "values": members})


@_rule
def matches(col: str, regex: str) -> Expectation:
    """Every non-null value of the string ``col`` matches ``regex`` in full (RE2 syntax)."""
    if not isinstance(regex, str):
        raise ValidationError(f"matches() takes the regular expression as a string; got {regex!r}.")
    _check_regex(regex)
    return Expectation("matches", {"col": _column(col, "matches"), "regex": regex})


@_rule
def max_null_fraction(col: str, fraction: float) -> Expectation:
    """At most ``fraction`` (0..1) of the rows have a NULL ``col``."""
    value = _number(fraction, "max_null_fraction", "fraction")
    if value is None or not 0 <= value <= 1:
        raise ValidationError(f"max_null_fraction(): fraction must be between 0 and 1; got {fraction!r}.")
    return Expectation("max_null_fraction", {"col": _column(col, "max_null_fraction"), "fraction": value})


@_rule
def mean_between(col: str, lo: float | None = None, hi: float | None = None) -> Expectation:
    """The mean of the finite values of the numeric ``col`` lies in [lo, hi]."""
    low, high = _number(lo, "mean_between", "lo"), _number(hi, "mean_between", "hi")
    _ordered(low, high, "mean_between")
    return Expectation("mean_between", {"col": _column(col, "mean_between"), "lo": low, "hi": high})


@_rule
def row_count_between(lo: int | None = None, hi: int | None = None) -> Expectation:
    """The batch has between ``lo`` and ``hi`` rows."""
    low = _number(lo, "row_count_between", "lo", integer=True)
    high = _number(hi, "row_count_between", "hi", integer=True)
    for bound in (low, high):
        if bound is not None and bound < 0:
            raise ValidationError(f"row_count_between(): bounds cannot be negative; got {bound}.")
    _ordered(low, high, "row_count_between")
    return Expectation("row_count_between", {"lo": low, "hi": high})


@_rule
def predicate(expression: str) -> Expectation:
    """Every row satisfies ``expression``, an SQL boolean over the batch's columns.

    Example: ``predicate("age >= 18 AND rating < 100")``. Rows where it is NULL pass.
    """
    return Expectation("predicate", {"expression": expression}, _parse_predicate(expression))


_AGGREGATE_RULES = frozenset({"max_null_fraction", "mean_between", "row_count_between"})


def _check_regex(regex: str) -> None:
    con = connect()
    try:
        probe = exp.select(exp.RegexpFullMatch(this=exp.Literal.string(""), expression=exp.Literal.string(regex)))
        con.sql(probe.sql(dialect="duckdb")).fetchall()
    except duckdb.Error as e:
        raise ValidationError(
            f"matches(): {regex!r} is not a valid regular expression (RE2 syntax): {_first_line(e)}"
        ) from e
    finally:
        con.close()


# --- predicate safety ---------------------------------------------------------------------

# fmt: off
_ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        # structure and values
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
        # logic and comparisons
        exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
        exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
        # arithmetic and conditionals
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.Pow, exp.DPipe,
        exp.Cast, exp.TryCast, exp.DataType, exp.DataTypeParam, exp.Case, exp.If,
        exp.Interval, exp.Var,
        # scalar functions
        exp.Abs, exp.Sign, exp.Round, exp.Floor, exp.Ceil, exp.Trunc, exp.Sqrt, exp.Ln, exp.Log, exp.Exp,
        exp.Greatest, exp.Least, exp.Coalesce, exp.Nullif, exp.IsNan, exp.IsInf,
        exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Substring, exp.Concat, exp.Left, exp.Right,
        exp.Replace, exp.StartsWith, exp.EndsWith, exp.Contains, exp.RegexpLike, exp.RegexpFullMatch,
        exp.Year, exp.Month, exp.Day, exp.Hour, exp.Minute, exp.Second, exp.DayOfWeek, exp.Extract,
        exp.CurrentDate, exp.CurrentTimestamp,
    }
)
# fmt: on
# Functions sqlglot has no class for, by lower-case name.
_ALLOWED_ANONYMOUS = frozenset({"isfinite", "now", "strlen", "date_part"})
# Top-level nodes that can be boolean; Column/Case/Coalesce/Cast are confirmed in DuckDB.
# fmt: off
_BOOLEAN_ROOTS: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
        exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.Boolean, exp.StartsWith,
        exp.EndsWith, exp.Contains, exp.RegexpLike, exp.RegexpFullMatch, exp.IsNan, exp.IsInf,
        exp.Column, exp.Case, exp.Coalesce, exp.Nullif, exp.Cast, exp.TryCast, exp.Anonymous,
    }
)
# fmt: on


def _parse_predicate(text: object) -> exp.Expr:
    """Parse and vet a predicate; raise ``ValidationError`` saying what is not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"predicate() takes a non-empty SQL boolean expression as a string; got {text!r}.")
    if len(text) > MAX_PREDICATE_LENGTH:
        raise ValidationError(f"predicate() expression is longer than {MAX_PREDICATE_LENGTH} characters.")
    try:
        parsed = [e for e in sqlglot.parse(text, read="duckdb") if e is not None]
    except Exception as e:  # sqlglot raises ParseError/TokenError, and others on odd input
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValidationError(f"predicate({text!r}) is not valid SQL: {detail}") from e
    if len(parsed) != 1:
        raise ValidationError(
            f"predicate({text!r}) must be one boolean expression, not {len(parsed) or 'no'} statements."
        )
    tree = parsed[0]
    depth: dict[int, int] = {id(tree): 0}
    for node in tree.walk():
        level = depth[id(node)]
        if level > MAX_PREDICATE_DEPTH:
            raise ValidationError(f"predicate({text!r}) is nested more than {MAX_PREDICATE_DEPTH} levels deep.")
        for child in node.iter_expressions():
            depth[id(child)] = level + 1
        _check_node(node, text)
    root = tree.unnest() if isinstance(tree, exp.Paren) else tree
    boolean_cast = isinstance(root, (exp.Cast, exp.TryCast)) and root.to.is_type(exp.DataType.Type.BOOLEAN)
    if type(root) not in _BOOLEAN_ROOTS or (isinstance(root, (exp.Cast, exp.TryCast)) and not boolean_cast):
        raise ValidationError(
            f"predicate({text!r}) is not a boolean expression: write a condition such as 'age >= 18 AND rating < 100'."
        )
    for node in tree.walk():
        node.comments = None
    return tree


def _check_node(node: exp.Expr, text: str) -> None:
    kind = type(node)
    if kind is exp.Anonymous:
        name = str(node.this).lower()
        if name not in _ALLOWED_ANONYMOUS:
            raise ValidationError(
                f"predicate({text!r}) calls {name}(), which is not allowed. Allowed functions: "
                f"{', '.join(_allowed_function_names())}."
            )
        return
    if kind not in _ALLOWED_NODES:
        names = node.sql_names() if isinstance(node, exp.Func) else []
        what = names[0].lower() if names else node.__class__.__name__
        if isinstance(node, (exp.Query, exp.Subquery, exp.Table)):
            reason = "subqueries and table references are not allowed; refer to the batch's columns directly"
        elif isinstance(node, exp.Func):
            reason = f"the function {what}() is not allowed (allowed: {', '.join(_allowed_function_names())})"
        else:
            reason = f"{what} is not allowed in a predicate"
        raise ValidationError(f"predicate({text!r}): {reason}.")
    if kind is exp.Column:
        if any(node.args.get(part) for part in ("table", "db", "catalog")) or not isinstance(node.this, exp.Identifier):
            raise ValidationError(
                f"predicate({text!r}): write plain column names ({node.sql(dialect='duckdb')!r} is qualified)."
            )
    if kind is exp.Identifier and not isinstance(node.parent, exp.Column):
        raise ValidationError(f"predicate({text!r}): unexpected name {node.name!r}.")
    if kind is exp.Var and not isinstance(node.parent, (exp.Interval, exp.Extract)):
        raise ValidationError(f"predicate({text!r}): unexpected word {node.name!r}.")


# What the error messages list: the names users write for the allowed functions.
# fmt: off
ALLOWED_FUNCTIONS = (
    "abs", "sign", "round", "floor", "ceil", "trunc", "sqrt", "ln", "log", "exp", "power", "mod",
    "greatest", "least", "coalesce", "nullif", "isnan", "isinf", "isfinite",
    "lower", "upper", "length", "strlen", "trim", "ltrim", "rtrim", "substring", "concat", "left",
    "right", "replace", "starts_with", "ends_with", "contains", "regexp_matches", "regexp_full_match",
    "year", "month", "day", "hour", "minute", "second", "dayofweek", "extract", "date_part",
    "now", "current_date", "current_timestamp",
)
# fmt: on


def _allowed_function_names() -> list[str]:
    return list(ALLOWED_FUNCTIONS)


# --- results ------------------------------------------------------------------------------


@dataclass
class ExpectationResult:
    """The outcome of one rule on one batch."""

    rule: str
    kwargs: dict[str, Any]
    success: bool
    failed_rows: int | None = None  # None for aggregate rules
    observed: Any = None  # the aggregate (null fraction, mean, row count)
    sample: list[dict[str, Any]] = field(default_factory=list)  # offending rows, with "$row"

    @property
    def expectation(self) -> Expectation:
        return Expectation.from_dict({"rule": self.rule, "kwargs": self.kwargs})

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kwargs": self.kwargs,
            "success": self.success,
            "failed_rows": self.failed_rows,
            "observed": self.observed,
            "sample": self.sample,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectationResult:
        return cls(
            rule=data["rule"],
            kwargs=dict(data.get("kwargs") or {}),
            success=bool(data["success"]),
            failed_rows=data.get("failed_rows"),
            observed=data.get("observed"),
            sample=list(data.get("sample") or []),
        )

    def describe(self, row_count: int) -> str:
        """One line (plus sample lines) saying what passed or failed."""
        rule = f"{self.rule}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"
        if self.success:
            return f"  passed  {rule}"
        if self.failed_rows is None:
            return f"  FAILED  {rule}: observed {self.observed!r}"
        share = f" ({self.failed_rows / row_count:.2%})" if row_count else ""
        lines = [f"  FAILED  {rule}: {self.failed_rows:,} of {row_count:,} rows{share}"]
        for row in self.sample:
            values = {k: v for k, v in row.items() if k != ROW_KEY}
            lines.append(f"            row {row.get(ROW_KEY)}: {values}")
        return "\n".join(lines)


@dataclass
class ValidationReport:
    """The result of :func:`validate`: ``success`` and one :class:`ExpectationResult` per rule."""

    success: bool
    row_count: int
    results: list[ExpectationResult] = field(default_factory=list)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "row_count": self.row_count, "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        try:
            return cls(
                success=bool(data["success"]),
                row_count=int(data["row_count"]),
                results=[ExpectationResult.from_dict(r) for r in data.get("results") or []],
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"Not a stored validation report: {e!r}") from e

    def raise_for_failure(self) -> None:
        """Raise ``ValidationError`` carrying this report if any rule failed (strict mode)."""
        if not self.success:
            raise ValidationError(str(self), report=self, failed=[r.rule for r in self.failures])

    def __str__(self) -> str:
        failed = len(self.failures)
        if failed:
            head = f"Validation failed: {failed} of {len(self.results)} expectations failed on {self.row_count:,} rows."
        else:
            head = f"Validation passed: {len(self.results)} expectations on {self.row_count:,} rows."
        return "\n".join([head, *(r.describe(self.row_count) for r in self.results)])


# --- validate -----------------------------------------------------------------------------


def validate(
    table: pa.Table, expectations: Iterable[Expectation | Mapping[str, Any]], sample_size: int = SAMPLE_SIZE
) -> ValidationReport:
    """Check ``expectations`` against ``table``; never raises for data that breaks a rule.

    Raises ``ValidationError`` for a rule that cannot be checked against this batch (a column
    it does not have, a bound of the wrong type, a predicate that is not boolean here).
    """
    from lakebox.expect_run import run

    return run(table, expectations, sample_size)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
