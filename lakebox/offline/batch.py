"""Checks and normalises one batch before it may touch storage; nothing is written if it fails.

Every rule a later step enforces is checked here, before the Iceberg commit, so a batch that
would fail after it (in the online store, in Iceberg's type mapping) is refused whole and a
group never gets into a state where good inserts fail because of an earlier bad one: names
(not reserved for lakebox's own columns), types (what Iceberg stores), keys (no nulls, no
duplicates, types that compare exactly, and in an online group types the online store can
serve). Key length has no limit: the online store keeps long keys by hash (online/codec.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import DuplicateKeyError, NullKeyError, SchemaMismatchError, ValidationError
from lakebox.names import check_name
from lakebox.online.codec import online_key_problem
from lakebox.types import canonical_type, conform_column

SAMPLE_ROWS = 5


def prepare_batch(
    data: pa.Table,
    *,
    schema: pa.Schema | None,
    primary_key: Sequence[str],
    event_time: str | None,
    what: str = "insert",
    online: bool = False,
) -> pa.Table:
    """Return ``data`` in storage form: columns of the group's schema, canonical types, valid keys.

    ``schema`` is the group's stored schema, or None for the first insert (the batch defines it).
    ``online``: the group is online-enabled, so its keys must be servable online too.
    """
    if data.num_rows == 0:
        raise ValidationError(f"Nothing to {what}: the dataframe has no rows.")
    names = data.column_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SchemaMismatchError(f"The dataframe has duplicate column names: {dupes}.", columns=dupes)
    for name in names:
        check_name(name, "column name")
    keys = [*primary_key, *([event_time] if event_time else [])]
    missing_keys = [k for k in keys if k not in names]
    if missing_keys:
        raise SchemaMismatchError(
            f"The dataframe lacks the key column(s) {missing_keys} (primary key {list(primary_key)}"
            + (f", event time {event_time!r}" if event_time else "")
            + f"). It has {names}.",
            columns=missing_keys,
        )
    # Nulls in keys first: pandas turns an int column holding None into float64, and the
    # user should hear "null key in rows [...]", not "float is not bigint".
    check_nulls(data, keys)
    if schema is None:
        columns = {name: data.column(name) for name in names}
        target = pa.schema([pa.field(n, canonical_type(columns[n].type, n)) for n in names])
    else:
        extra = [n for n in names if n not in schema.names]
        missing = [n for n in schema.names if n not in names]
        if extra or missing:
            raise SchemaMismatchError(
                "The dataframe's columns do not match the feature group's schema: "
                + (f"missing {missing}; " if missing else "")
                + (f"unknown {extra}; " if extra else "")
                + f"expected exactly {schema.names}. Select those columns, or create a new version of "
                "the group for a new schema.",
                missing=missing,
                extra=extra,
            )
        target = schema
    arrays = [conform_column(data.column(f.name), f.type, f.name) for f in target]
    batch = pa.Table.from_arrays(arrays, schema=target)
    if event_time is not None and not pa.types.is_timestamp(batch.schema.field(event_time).type):
        raise SchemaMismatchError(
            f"The event time column {event_time!r} must hold timezone-aware timestamps, "
            f"it holds {data.schema.field(event_time).type}.",
            column=event_time,
        )
    for key in primary_key:
        if pa.types.is_floating(batch.schema.field(key).type) or pa.types.is_list(batch.schema.field(key).type):
            raise SchemaMismatchError(
                f"Primary key column {key!r} has type {batch.schema.field(key).type}; keys must be "
                "integers, strings, dates, timestamps, booleans or binary (floats do not compare exactly).",
                column=key,
            )
    if online:
        check_online_keys(batch.schema, primary_key)
    check_keys(batch, keys)
    return batch


def check_online_keys(schema: pa.Schema, primary_key: Sequence[str]) -> None:
    """Refuse a primary key the online store cannot serve (call before enabling online, too)."""
    present = [k for k in primary_key if k in schema.names]
    problem = online_key_problem(present, [schema.field(k).type for k in present])
    if problem is not None:
        raise SchemaMismatchError(f"This feature group is served online, but its {problem}.", columns=present)


def check_nulls(batch: pa.Table, keys: Sequence[str]) -> None:
    """Refuse nulls (and NaN, pandas' null for numbers) in key columns, naming the rows."""
    for key in keys:
        column = batch.column(key)
        missing = pc.is_null(column, nan_is_null=True) if pa.types.is_floating(column.type) else pc.is_null(column)
        count = pc.sum(missing).as_py() or 0
        if count:
            rows = pc.indices_nonzero(missing).to_pylist()[:SAMPLE_ROWS]
            raise NullKeyError(
                f"Key column {key!r} is null in {count} row(s) (row positions {rows}"
                f"{'...' if count > SAMPLE_ROWS else ''}). Drop or fill those rows before inserting.",
                column=key,
                rows=rows,
                count=count,
            )


def check_keys(batch: pa.Table, keys: Sequence[str]) -> None:
    """Refuse nulls in key columns and rows that share all key values."""
    for key in keys:
        nulls = batch.column(key).null_count
        if nulls:
            rows = pc.indices_nonzero(pc.is_null(batch.column(key))).to_pylist()[:SAMPLE_ROWS]
            raise NullKeyError(
                f"Key column {key!r} is null in {nulls} row(s) (row positions {rows}"
                f"{'...' if nulls > SAMPLE_ROWS else ''}). Drop or fill those rows before inserting.",
                column=key,
                rows=rows,
                count=nulls,
            )
    dupes, order = _duplicates_and_order(batch.select(list(keys)))
    _remember_order(batch, keys, order)
    if dupes.num_rows:
        sample = dupes.slice(0, SAMPLE_ROWS).to_pylist()
        role = "primary key and event time" if event_time_in(keys, batch) else "primary key"
        raise DuplicateKeyError(
            f"{dupes.num_rows} value(s) of the {role} {list(keys)} occur more than once in this batch, "
            f"e.g. {sample}. A feature group keeps one row per {role}: deduplicate the batch first "
            "(e.g. df.drop_duplicates(subset=...)).",
            keys=list(keys),
            sample=sample,
            count=dupes.num_rows,
        )


def event_time_in(keys: Sequence[str], batch: pa.Table) -> bool:
    return len(keys) > 1 and pa.types.is_timestamp(batch.schema.field(keys[-1]).type)


def duplicate_keys(keys: pa.Table) -> pa.Table:
    """The distinct key tuples that occur more than once."""
    return _duplicates_and_order(keys)[0]


def key_order(batch: pa.Table, keys: Sequence[str]) -> pa.Array:
    """The row order that sorts ``batch`` by ``keys`` (ascending).

    The writer sorts every batch by key before writing it; ``check_keys`` already sorted the
    same key columns to find duplicates, so for a batch ``prepare_batch`` returned, that order
    is reused instead of sorting twice (the sort is ~40% of the CPU of a 1M-row insert).
    """
    found = _ORDERS.get(id(batch))
    if found is not None and found[0]() is batch and found[1] == tuple(keys):
        return found[2]
    return pc.sort_indices(batch.select(list(keys)), sort_keys=[(name, "ascending") for name in keys])


# id(batch) -> (the batch, its key columns, the order that sorts it by them); an entry goes
# when its batch is garbage collected, so an id is never matched to another table.
_ORDERS: dict[int, tuple[weakref.ref[pa.Table], tuple[str, ...], pa.Array]] = {}


def _remember_order(batch: pa.Table, keys: Sequence[str], order: pa.Array | None) -> None:
    if order is None:
        return
    key = id(batch)
    ref = weakref.ref(batch, lambda _gone, key=key: _ORDERS.pop(key, None))  # type: ignore[misc]
    _ORDERS[key] = (ref, tuple(keys), order)


def _duplicates_and_order(keys: pa.Table) -> tuple[pa.Table, pa.Array | None]:
    """The distinct key tuples that occur more than once, and the order sorting ``keys``.

    Sorting the key columns and comparing neighbours is several times faster than a hash
    group-by for the common case (no duplicates) and needs no hashing of timestamps.
    """
    if keys.num_rows < 2:
        return keys.slice(0, 0), None
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names])
    ordered = keys.take(order)
    same = None
    for name in keys.column_names:
        column = ordered.column(name)
        equal = pc.equal(column.slice(1), column.slice(0, len(column) - 1))
        same = equal if same is None else pc.and_(same, equal)
    assert same is not None
    positions = pc.indices_nonzero(same)
    if len(positions) == 0:
        return keys.slice(0, 0), order
    repeated = ordered.take(positions)
    return repeated.group_by(keys.column_names).aggregate([]), order
