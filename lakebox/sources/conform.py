"""A source's rows in storage form, checked the way an insert is checked — on every read.

An external group's data is not written by lakebox, so nothing guaranteed its keys when it
was written: every read checks them (no null keys, one row per primary key and event time),
with an error that names the group and the source. Column names are lower-cased. Naive timestamps are read in the source's
``timezone``; an event time held as ISO-8601 text (SQLite), a date or epoch milliseconds
becomes a UTC timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import LakeboxError, SchemaMismatchError, ValidationError
from lakebox.offline.batch import prepare_batch
from lakebox.sources.spec import Source
from lakebox.types import TIMESTAMP, canonical_type, conform_column


def conform(
    raw: pa.Table,
    source: Source,
    *,
    schema: pa.Schema | None,
    primary_key: Sequence[str],
    event_time: str | None,
    label: str,
) -> pa.Table:
    """``raw`` (the source's own types) as the group stores it: ``schema``'s columns and types
    (or canonical types when ``schema`` is None, at creation), checked keys."""
    try:
        table = _times(raw, source, event_time)
        if schema is not None:
            missing = [n for n in schema.names if n not in table.column_names]
            if missing:
                raise SchemaMismatchError(
                    f"it no longer has the column(s) {missing}; it has {table.column_names}.", missing=missing
                )
            table = table.select(schema.names)
        if table.num_rows == 0:
            return _empty(table, schema)
        return prepare_batch(table, schema=schema, primary_key=primary_key, event_time=event_time, what="read")
    except LakeboxError as e:
        error = type(e)(
            f"The source of external feature group {label} ({source.describe()}) does not fit the group: {e.message} "
            "Fix the source, or change its query= to select conforming rows.",
            **e.details,
        )
        raise error from e


def _lower(table: pa.Table) -> pa.Table:
    """Source columns named in mixed case (CSV headers, quoted PostgreSQL names) are
    lower-cased, as lakebox names are; two that collide are an error."""
    names = [n.lower() for n in table.column_names]
    if len(set(names)) != len(names):
        clashes = sorted({n for n in names if names.count(n) > 1})
        raise SchemaMismatchError(
            f"its columns {clashes} differ only in case; lakebox names are lower-case. Rename them in query=.",
            columns=clashes,
        )
    return table.rename_columns(names) if names != table.column_names else table


def _times(table: pa.Table, source: Source, event_time: str | None) -> pa.Table:
    table = _lower(table)
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns):
        if field.name == event_time:
            column = _event_time(column, source.timezone, field.name)
        elif pa.types.is_timestamp(field.type) and field.type.tz is None:
            column = _localize(column, source.timezone)
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _localize(column: pa.ChunkedArray, zone: str) -> pa.ChunkedArray:
    if zone == "UTC":
        return column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    return pc.assume_timezone(column, zone, ambiguous="earliest", nonexistent="earliest")


def _event_time(column: pa.ChunkedArray, zone: str, name: str) -> pa.ChunkedArray:
    t = column.type
    if pa.types.is_timestamp(t):
        return _localize(column, zone) if t.tz is None else column
    if pa.types.is_date(t):
        return column.cast(pa.timestamp("us")).cast(TIMESTAMP)
    if pa.types.is_integer(t):  # epoch milliseconds
        return column.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(TIMESTAMP)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return _localize(column.cast(pa.timestamp("us")), zone)
        except pa.ArrowInvalid:
            pass
        try:
            return column.cast(TIMESTAMP)  # text with offsets ('...Z', '+02:00')
        except pa.ArrowInvalid as e:
            raise SchemaMismatchError(
                f"its event time column {name!r} holds text that is not ISO-8601 timestamps ({e}).", column=name
            ) from e
    raise SchemaMismatchError(
        f"its event time column {name!r} holds {t}; it must hold timestamps, dates, epoch milliseconds or "
        "ISO-8601 text.",
        column=name,
    )


def _empty(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    if schema is not None:
        return schema.empty_table()
    fields = []
    for field in table.schema:
        if pa.types.is_null(field.type):
            raise ValidationError(
                f"it has no rows and column {field.name!r} has no type; lakebox needs rows (or typed columns) "
                "to learn the schema."
            )
        fields.append(pa.field(field.name, canonical_type(field.type, field.name)))
    target = pa.schema(fields)
    return pa.Table.from_arrays(
        [conform_column(table.column(f.name), f.type, f.name) for f in target], schema=target
    )
