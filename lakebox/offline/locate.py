"""Finding the stored rows a write touches by reading key columns only.

A merge must know which data files really hold a batch's (key, event time) pairs. Manifest
statistics (min/max per file) prune files that cannot; with random keys they prune nothing.
This module asks DuckDB which of the remaining files hold the keys: it reads only the key
columns of those files (plus the file name), semi-joins them with the batch's keys
(registered Arrow, no copy) and returns the files that matched. Only those files are then
read whole and rewritten, so a batch of new keys rewrites nothing.

DuckDB reads Parquet by column name, so files it cannot read exactly (files with delete files
written by another engine, tables whose schema evolved) go through pyiceberg's exact scan,
as reader.py does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot.expressions as exp
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask, Table

from lakebox.errors import StorageError
from lakebox.offline import reader

ROW = "__lakebox_row"
FILE = "__lakebox_file"


@dataclass
class Rewrite:
    """One stored file that holds some of the keys: what stays, and what the write removes."""

    task: FileScanTask
    kept: pa.Table
    removed: pa.Table


def rewrites(table: Table, tasks: Sequence[FileScanTask], keys: pa.Table) -> list[Rewrite]:
    """The files among ``tasks`` holding rows whose columns ``keys.column_names`` equal a row of ``keys``.

    ``keys`` must be in storage types (the table's Arrow schema for those columns). Each result
    holds the file's rows split into those kept and those removed (both in the file's order).
    """
    if not tasks or keys.num_rows == 0:
        return []
    fast = [t for t in tasks if reader.duckdb_can_read(table, [t])]
    exact = [t for t in tasks if not reader.duckdb_can_read(table, [t])]
    found: list[Rewrite] = []
    for task in matching_files(table, fast, keys):
        rows = read_file(table, task)
        kept, removed = split(rows, keys)
        if removed.num_rows:
            found.append(Rewrite(task, kept, removed))
    for task in exact:  # the exact, slow path: the whole file through pyiceberg, in the current schema
        rows = ArrowScan(table.metadata, table.io, table.schema(), reader.ALWAYS_TRUE).to_table([task])
        kept, removed = split(rows, keys)
        if removed.num_rows:
            found.append(Rewrite(task, kept, removed))
    return found


def matching_files(table: Table, tasks: Sequence[FileScanTask], keys: pa.Table) -> list[FileScanTask]:
    """The tasks whose file holds at least one row matching ``keys`` (DuckDB, key columns only)."""
    if not tasks:
        return []
    by_path = {reader.local_path(t.file.file_path, table): t for t in tasks}
    names = keys.column_names
    files = exp.Anonymous(
        this="read_parquet",
        expressions=[
            exp.Array(expressions=[exp.Literal.string(p) for p in by_path]),
            exp.EQ(this=exp.column("filename"), expression=exp.Literal.string(FILE)),
        ],
    )
    on = exp.and_(
        *[exp.EQ(this=exp.column(k, "f", quoted=True), expression=exp.column(k, "b", quoted=True)) for k in names]
    )
    query = (
        exp.select(exp.column(FILE, "f", quoted=True))
        .distinct()
        .from_(exp.Table(this=files, alias=exp.TableAlias(this=exp.to_identifier("f"))))
        .join(exp.alias_(exp.to_table("lakebox_keys"), "b", table=True), on=on, join_type="SEMI")
    )
    con = reader.cursor()
    try:
        con.register("lakebox_keys", keys)
        hits = con.sql(query.sql(dialect="duckdb")).fetchall()
    except duckdb.Error as e:
        raise StorageError(f"Locating keys in {table.name()} failed in DuckDB: {e}") from e
    finally:
        con.close()
    matched = {str(h[0]) for h in hits}
    return [t for p, t in by_path.items() if p in matched]


def read_file(table: Table, task: FileScanTask) -> pa.Table:
    """All rows of one data file DuckDB can read exactly, in the table's storage schema and file order."""
    path = reader.local_path(task.file.file_path, table)
    try:
        rows = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException) as e:
        raise StorageError(f"Cannot read the data file {path} of {table.name()}: {e}") from e
    target = table.schema().as_arrow()
    return rows.select(target.names).cast(target)


def split(rows: pa.Table, keys: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(rows matching no row of ``keys``, rows matching one), each in ``rows``' order.

    Only key columns and a row number enter the hash join, so payload columns of any type
    (lists, decimals) never have to be supported by Acero's join.
    """
    names = keys.column_names
    numbered = rows.select(names).append_column(ROW, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    hit = numbered.join(keys, keys=names, join_type="left semi").column(ROW).to_numpy()
    if len(hit) == 0:
        return rows, rows.slice(0, 0)
    mask = np.ones(rows.num_rows, dtype=bool)
    mask[hit] = False
    return rows.filter(pa.array(mask)), rows.take(pa.array(np.sort(hit)))
