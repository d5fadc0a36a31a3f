"""Incremental reads: the rows that the commits in ``(base, now]`` inserted or changed.

``fg.as_of(now, exclude_until=base)`` on one group. Without delete files this is a
difference of data files: only files in ``now`` but not in ``base`` can hold new rows, and
only files in ``base`` but not in ``now`` can hold replaced ones; whole rows are compared
(a re-inserted identical row is no change) and the wanted columns projected. When either
pin has merge-on-read deletes, a file in both may hold different rows: the whole pins are
compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import QueryError
from lakebox.query import duck
from lakebox.query.build import group_relation
from lakebox.query.refs import GroupRef, Pin


def relation_name(ref: GroupRef, pin: Pin) -> str:
    """The name ``to_sql`` gives the group at a pin: ``name_version__commit_N`` (or ``__empty``)."""
    if pin.commit_id is None:
        return f"{ref.relation}__empty"
    return f"{ref.relation}__commit_{pin.commit_id}"


def incremental_sql(ref: GroupRef, columns: Sequence[str], now: Pin, base: Pin, dialect: str) -> str:
    def select(name: str) -> exp.Select:
        return exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(exp.to_table(name, quoted=True))

    query = exp.except_(select(relation_name(ref, now)), select(relation_name(ref, base)))
    return query.sql(dialect=dialect, pretty=True)


def _changed_part(pin: Pin, other: Pin) -> Pin:
    """``pin`` narrowed to the data files ``other`` lacks (all of it when files are not exact,
    or when deletes make a file's rows differ between the two pins)."""
    if pin.exact is not None or other.exact is not None or pin.has_deletes or other.has_deletes:
        return pin
    files = tuple(f for f in pin.files if f not in set(other.files))
    return Pin(pin.snapshot_id, pin.commit_id, files) if files else Pin(None)


def read_incremental(
    ref: GroupRef, columns: Sequence[str], now: Pin, base: Pin, settings: duck.DuckSettings | None = None
) -> pa.Table:
    schema = pa.schema([ref.schema.field(c) for c in columns])
    if now.snapshot_id is None:
        return schema.empty_table()
    con = duck.connect(settings)
    try:
        relation = group_relation(ref)
        duck.register(con, replace(relation, pin=_changed_part(now, base)), "lakebox_new")
        duck.register(con, replace(relation, pin=_changed_part(base, now)), "lakebox_old")
        changed = exp.except_(
            exp.select("*").from_("lakebox_new"), exp.select("*").from_("lakebox_old"), distinct=True
        ).subquery("changed")
        order = [*ref.primary_key, *([ref.event_time] if ref.event_time else [])]
        query = (
            exp.select(*[exp.column(c, quoted=True) for c in columns])
            .from_(changed)
            .order_by(*[exp.column(k, quoted=True) for k in order])
        )
        result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
    except duckdb.Error as e:
        raise QueryError(f"Incremental read of {ref.label} failed: {e}") from e
    finally:
        con.close()
    return duck.plain_types(result).cast(schema)
