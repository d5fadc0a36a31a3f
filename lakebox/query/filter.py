"""Filter expressions built from feature objects: ``fg.age > 30``, ``&``, ``|``, ``~``.

Values stay Python values until compilation, where sqlglot turns them into literals, so
user data can never become SQL syntax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlglot.expressions as exp

from lakebox.errors import QueryError
from lakebox.timeutil import to_datetime


@dataclass(frozen=True, eq=False)
class Col:
    """A feature of a feature group, usable in filters: ``fg.age``, ``fg["age"]``."""

    group_id: int
    group_name: str
    group_version: int
    name: str
    project: str | None = None  # set for a group another project shares with this one

    @property
    def group(self) -> str:
        prefix = f"{self.project}::" if self.project else ""
        return f"{prefix}{self.group_name} v{self.group_version}"

    @property
    def group_key(self) -> tuple[str, int]:
        """Its group's ``GroupRef.key``."""
        return (self.project or "", self.group_id)

    def to_dict(self) -> dict[str, Any]:
        if self.project:
            return {"col": [self.group_name, self.group_version, self.name, self.project]}
        return {"col": [self.group_name, self.group_version, self.name]}

    def _cmp(self, op: str, other: Any) -> Condition:
        if other is None:
            # "= NULL" is never true in SQL: say what was meant instead of returning no rows
            raise QueryError(f"Compare {self.name!r} with None using .is_null() or .not_null(), not {op}.")
        return Condition(op, (self, _value(other)))

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._cmp("eq", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._cmp("ne", other)

    def __lt__(self, other: Any) -> Condition:
        return self._cmp("lt", other)

    def __le__(self, other: Any) -> Condition:
        return self._cmp("le", other)

    def __gt__(self, other: Any) -> Condition:
        return self._cmp("gt", other)

    def __ge__(self, other: Any) -> Condition:
        return self._cmp("ge", other)

    def isin(self, values: Iterable[Any]) -> Condition:
        items = tuple(_value(v) for v in values)
        if not items:
            raise QueryError(f"isin() on {self.name!r} needs at least one value.")
        return Condition("in", (self, items))

    def between(self, low: Any, high: Any) -> Condition:
        return Condition("between", (self, _value(low), _value(high)))

    def is_null(self) -> Condition:
        return Condition("is_null", (self,))

    def not_null(self) -> Condition:
        return Condition("not", (Condition("is_null", (self,)),))

    def like(self, pattern: str) -> Condition:
        if not isinstance(pattern, str):
            raise QueryError("like() takes a string pattern.")
        return Condition("like", (self, pattern))

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise QueryError(f"Feature {self.name!r} used as a truth value; combine filters with & and |, not and/or.")


@dataclass(frozen=True, eq=False)
class Condition:
    op: str
    args: tuple[Any, ...]

    def __and__(self, other: Condition) -> Condition:
        return Condition("and", (self, _condition(other)))

    def __or__(self, other: Condition) -> Condition:
        return Condition("or", (self, _condition(other)))

    def __invert__(self) -> Condition:
        return Condition("not", (self,))

    def __bool__(self) -> bool:
        raise QueryError("Combine filters with & and | (and wrap comparisons in parentheses), not and/or.")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (feature views store their query's filters)."""
        return {"op": self.op, "args": [_arg_to_json(a) for a in self.args]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], col: Any) -> Condition:
        """Inverse of ``to_dict``; ``col(group, version, name) -> Col`` rebinds features."""
        return cls(data["op"], tuple(_arg_from_json(a, col) for a in data["args"]))

    def columns(self) -> list[Col]:
        found: list[Col] = []
        for arg in self.args:
            if isinstance(arg, Col):
                found.append(arg)
            elif isinstance(arg, Condition):
                found.extend(arg.columns())
        return found

    def to_sqlglot(self, column_sql: Any) -> exp.Expr:
        """Compile with ``column_sql(col) -> sqlglot column expression``."""

        def operand(value: Any) -> exp.Expr:
            if isinstance(value, Col):
                return column_sql(value)
            if isinstance(value, Condition):
                return value.to_sqlglot(column_sql)
            return _literal(value)

        a = self.args
        ops: dict[str, type[exp.Expr]] = {
            "eq": exp.EQ,
            "ne": exp.NEQ,
            "lt": exp.LT,
            "le": exp.LTE,
            "gt": exp.GT,
            "ge": exp.GTE,
        }
        if self.op in ops:
            return ops[self.op](this=operand(a[0]), expression=operand(a[1]))
        if self.op == "and":
            return exp.and_(operand(a[0]), operand(a[1]))
        if self.op == "or":
            return exp.paren(exp.or_(operand(a[0]), operand(a[1])))
        if self.op == "not":
            return exp.not_(operand(a[0]))
        if self.op == "in":
            return exp.In(this=operand(a[0]), expressions=[operand(v) for v in a[1]])
        if self.op == "between":
            return exp.Between(this=operand(a[0]), low=operand(a[1]), high=operand(a[2]))
        if self.op == "is_null":
            return exp.Is(this=operand(a[0]), expression=exp.Null())
        if self.op == "like":
            return exp.Like(this=operand(a[0]), expression=exp.Literal.string(a[1]))
        raise QueryError(f"Unknown filter operation {self.op!r}.")


def _condition(value: Any) -> Condition:
    if not isinstance(value, Condition):
        raise QueryError(f"Expected a filter condition (e.g. fg.age > 30), got {value!r}.")
    return value


def _value(value: Any) -> Any:
    if isinstance(value, (Col, Condition)) or value is None:
        return value
    if isinstance(value, bool) or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, datetime) or hasattr(value, "to_pydatetime"):
        return to_datetime(value, "filter value")
    if isinstance(value, date):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _value(value.item())
    raise QueryError(f"Cannot use {type(value).__name__} {value!r} in a filter; use numbers, strings or times.")


def _literal(value: Any) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("TIMESTAMPTZ"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    return exp.convert(value)


def _arg_to_json(value: Any) -> Any:
    if isinstance(value, (Col, Condition)):
        return value.to_dict()
    if isinstance(value, tuple):
        return {"tuple": [_arg_to_json(v) for v in value]}
    if isinstance(value, datetime):
        return {"ts": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _arg_from_json(value: Any, col: Any) -> Any:
    if isinstance(value, dict):
        if "col" in value:
            return col(*value["col"])
        if "op" in value:
            return Condition.from_dict(value, col)
        if "tuple" in value:
            return tuple(_arg_from_json(v, col) for v in value["tuple"])
        if "ts" in value:
            return datetime.fromisoformat(value["ts"])
        if "date" in value:
            return date.fromisoformat(value["date"])
    return value
