"""Planning a rollback: which files a commit restoring an older snapshot removes and adds
again, the rows it rewrites, and its row counts by key (table.py makes it the commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import sqlglot.expressions as exp
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table

from lakebox.errors import StorageError
from lakebox.offline import deletes, reader


@dataclass
class RollbackPlan:
    delete_files: list[DataFile]  # current files the target does not have
    add_files: list[DataFile]  # the target's files, added back
    rewritten: pa.Table | None  # the target's rows of files with deletes (written as new files)
    counts: tuple[int, int, int]  # rows inserted, updated, deleted


def plan(table: Table, name: str, keys: list[str], snapshot_id: int | None, target_id: int) -> RollbackPlan:
    """What a commit on top of ``snapshot_id`` that restores the data of ``target_id`` does."""
    current = {t.file.file_path: t for t in reader.plan(table, snapshot_id)}
    target = {t.file.file_path: t for t in reader.plan(table, target_id)}
    if not reader.position_deletes_only([*current.values(), *target.values()]):
        raise StorageError(f"{name} has delete files written by another engine; lakebox cannot roll it back.")
    removed, added, rewritten = deletes.rollback_files(current, target)  # rewritten: files with deletes
    rows = reader.read(table, target_id, table.schema().as_arrow(), tasks=rewritten) if rewritten else None
    # Row counts by key: keys only in the target are re-inserted, keys only in the current
    # state are deleted, and keys in both whose rows differ are updated.
    before = _scan_rows(table, removed)
    after = _scan_rows(table, [*added, *rewritten])
    return RollbackPlan([t.file for t in removed], [t.file for t in added], rows, _diff_counts(before, after, keys))


def _scan_rows(table: Table, tasks: Sequence[FileScanTask]) -> pa.Table:
    if not tasks:
        return table.schema().as_arrow().empty_table()
    return reader.arrow_scan(table, tasks, table.current_snapshot().snapshot_id)  # type: ignore[union-attr]


def _diff_counts(before: pa.Table, after: pa.Table, keys: list[str]) -> tuple[int, int, int]:
    """(inserted, updated, deleted) between two row sets by key; unchanged rows do not count."""
    def count(source: exp.Expression, other: str, join_type: str) -> int:
        on = exp.and_(
            *[exp.EQ(this=exp.column(k, "a", quoted=True), expression=exp.column(k, "b", quoted=True)) for k in keys]
        )
        query = (
            exp.select(exp.Count(this=exp.Star()))
            .from_(exp.alias_(source, "a", table=True))
            .join(exp.alias_(exp.to_table(other), "b", table=True), on=on, join_type=join_type)
        )
        return int(con.sql(query.sql(dialect="duckdb")).fetchall()[0][0])

    con = reader.connect()
    try:
        con.register("before_rows", before)
        con.register("after_rows", after)
        changed = exp.except_(exp.select("*").from_("after_rows"), exp.select("*").from_("before_rows")).subquery()
        inserted = count(exp.to_table("after_rows"), "before_rows", "ANTI")
        deleted = count(exp.to_table("before_rows"), "after_rows", "ANTI")
        updated = count(changed, "before_rows", "SEMI")
    finally:
        con.close()
    return int(inserted), int(updated), int(deleted)
