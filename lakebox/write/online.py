"""The online mirror step of the write path: apply one commit to a group's LMDB table.

Called under the group's write lock, right after the Iceberg commit it mirrors, so online
writes happen in commit order. The watermark (the last commit applied) is written in the
same LMDB transaction as the values; a mirror that finds the watermark out of step (a
writer died between the two stores, or an earlier mirror failed) rebuilds the group from
the offline store instead of applying a delta onto a stale base.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import And, BooleanExpression, In

from lakebox.catalog.groups import CommitRow, GroupRow
from lakebox.offline import reader
from lakebox.offline.table import GroupTable
from lakebox.online.store import OnlineStore
from lakebox.online.table import OnlineTable, latest_per_key


def online_uid(row: GroupRow) -> str:
    """How the online store names a group: its Iceberg table name, unique per group ever
    created (a catalog id can come back after a restore; a table name never does)."""
    return row.table_name


class OnlineMirror:
    """Writes commits of online-enabled groups into the online store."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    def table(self, row: GroupRow, schema: pa.Schema) -> OnlineTable:
        return OnlineTable(self.store, online_uid(row), schema, row.primary_key, row.event_time)

    def watermark(self, row: GroupRow) -> int:
        return self.store.watermark(online_uid(row))

    def apply(
        self,
        row: GroupRow,
        schema: pa.Schema,
        group: GroupTable,
        commit: CommitRow,
        batch: pa.Table | None = None,
        deleted: pa.Table | None = None,
    ) -> None:
        online = self.table(row, schema)
        in_step = self.watermark(row) == commit.commit_id - 1
        if in_step and commit.kind == "insert" and batch is not None:
            online.upsert(batch, commit.commit_id)
        elif in_step and commit.kind == "delete" and deleted is not None:
            keys = list(row.primary_key)
            affected = deleted.select(keys).group_by(keys).aggregate([])
            online.replace_keys(affected, latest_rows(group, schema, row, affected), commit.commit_id)
        elif in_step and commit.kind == "compact":  # same rows: only the watermark moves
            self.store.write(lambda txn: self.store.set_watermark(txn, online_uid(row), commit.commit_id))
        else:
            self.rebuild(row, schema, group, commit.commit_id)

    def rebuild(self, row: GroupRow, schema: pa.Schema, group: GroupTable, commit_id: int) -> int:
        """Replace the group's online rows with the latest offline row per key."""
        latest = latest_rows(group, schema, row)
        self.table(row, schema).rebuild(latest, commit_id)
        return latest.num_rows

    def drop(self, row: GroupRow) -> None:
        self.store.drop(online_uid(row))


def latest_rows(group: GroupTable, schema: pa.Schema, row: GroupRow, keys: pa.Table | None = None) -> pa.Table:
    """The latest offline row per key (of ``keys`` only, when given: files are pruned by the
    keys' values, so a delete of a few keys reads a few files, not the group)."""
    table = group.load()
    snapshot = table.current_snapshot()
    if snapshot is None:
        return schema.empty_table()
    row_filter = key_filter(keys) if keys is not None else reader.ALWAYS_TRUE
    tasks = reader.plan(table, snapshot.snapshot_id, row_filter)
    rows = reader.read(table, snapshot.snapshot_id, schema, tasks=tasks)
    if keys is not None:
        rows = semi_join(rows, keys)
    return latest_per_key(rows, row.primary_key, row.event_time)


def key_filter(keys: pa.Table) -> BooleanExpression:
    """``col IN (values)`` for each integer or string key column: a superset of the keys' rows
    that Iceberg's file statistics can prune by."""
    expression: BooleanExpression = reader.ALWAYS_TRUE
    for name in keys.column_names:
        column = keys.column(name)
        if not (pa.types.is_integer(column.type) or pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        values = pc.unique(column.combine_chunks()).drop_null().to_pylist()
        if not values:
            continue
        clause = In(name, values)  # type: ignore[call-arg]  # pyiceberg: In(term, literals) at runtime, pydantic fields to mypy
        expression = clause if expression is reader.ALWAYS_TRUE else And(expression, clause)
    return expression


def semi_join(rows: pa.Table, keys: pa.Table) -> pa.Table:
    """Rows whose key columns match a row of ``keys``, in their original order."""
    names: Sequence[str] = keys.column_names
    numbered = rows.select(names).append_column("__lakebox_row", pa.array(range(rows.num_rows), pa.int64()))
    matched = numbered.join(keys, keys=list(names), join_type="left semi").column("__lakebox_row")
    return rows.take(matched.take(pc.sort_indices(matched)))
