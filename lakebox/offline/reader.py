"""Reading a group's table at a snapshot: pyiceberg plans the files, DuckDB reads them.

The DuckDB iceberg extension cannot be downloaded on air-gapped machines, so lakebox gives
DuckDB the Parquet files that pyiceberg's scan planning returns. Files with Parquet
position-delete files (lakebox's merge-on-read updates, ``deletes.py``) are read by DuckDB with
their file names and row numbers, anti-joined with the deleted ``(file, position)`` pairs
(``source_with_deletes``). Cases DuckDB cannot read correctly fall back to pyiceberg's Arrow
scan, which is exact but slower: equality deletes or deletion vectors (written by other
engines), and tables whose schema has evolved (DuckDB maps Parquet columns by name, Iceberg
by field id).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot.expressions as exp
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFileContent, FileFormat
from pyiceberg.table import FileScanTask, Table

from lakebox.errors import StorageError
from lakebox.offline.fileio import BoxFileIO

ALWAYS_TRUE = AlwaysTrue()
FILE = "__lakebox_file"  # DuckDB's file-name column when reading with position deletes
ROW = "file_row_number"  # DuckDB's row-number column (its name is fixed)
DELETED = "lakebox_deleted"  # the registered (file, position) pairs a read skips


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with lakebox's settings (UTC session time zone)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


_shared: tuple[int, duckdb.DuckDBPyConnection] | None = None
_shared_lock = threading.Lock()
_inherited: list[duckdb.DuckDBPyConnection] = []


def cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on this process's one in-memory DuckDB database (UTC), for short internal
    queries (locating keys, hashing for statistics). Opening a database costs ~25 ms, a
    cursor microseconds; a cursor's registered tables are its own, so threads never meet.
    A forked child opens its own database and never destroys the parent's there (its worker
    threads do not exist in the child: the destructor would crash)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            if _shared is not None:
                _inherited.append(_shared[1])
            _shared = (os.getpid(), connect())
        return _shared[1].cursor()


def canonical_schema(table: Table) -> pa.Schema:
    """The Arrow schema lakebox hands out for a table: plain string/binary/list, no field ids."""
    fields = [pa.field(f.name, _plain(f.type)) for f in table.schema().as_arrow()]
    return pa.schema(fields)


def _plain(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    if pa.types.is_large_binary(dtype) or pa.types.is_binary_view(dtype):
        return pa.binary()
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        return pa.list_(_plain(dtype.value_type))
    if pa.types.is_timestamp(dtype) and dtype.tz is not None:
        return pa.timestamp(dtype.unit, tz="UTC")
    return dtype


def plan(table: Table, snapshot_id: int | None, row_filter: BooleanExpression = ALWAYS_TRUE) -> list[FileScanTask]:
    """The data files of ``snapshot_id`` (pruned by ``row_filter`` statistics); [] for no snapshot."""
    if snapshot_id is None:
        return []
    try:
        return list(table.scan(row_filter=row_filter, snapshot_id=snapshot_id).plan_files())
    except Exception as e:
        raise StorageError(f"Cannot plan a scan of {table.name()} at snapshot {snapshot_id}: {e}") from e


def duckdb_can_read(table: Table, tasks: Sequence[FileScanTask]) -> bool:
    """True when DuckDB over the raw Parquet files gives exactly the Iceberg rows."""
    if len(table.metadata.schemas) > 1:
        return False
    return all(not task.delete_files for task in tasks)


def duckdb_can_read_deleting(table: Table, tasks: Sequence[FileScanTask]) -> bool:
    """True when DuckDB gives exactly the Iceberg rows by anti-joining the tasks' delete
    files: Parquet position deletes only, one schema, no column named like DuckDB's own."""
    if len(table.metadata.schemas) > 1:
        return False
    if {FILE, ROW} & set(table.schema().as_arrow().names):
        return False
    return position_deletes_only(tasks)


def position_deletes_only(tasks: Sequence[FileScanTask]) -> bool:
    """True when every delete file of ``tasks`` is a Parquet position-delete file (lakebox's kind)."""
    return all(
        d.content == DataFileContent.POSITION_DELETES and d.file_format == FileFormat.PARQUET
        for task in tasks
        for d in task.delete_files
    )


def deleted_rows(table: Table, tasks: Sequence[FileScanTask]) -> pa.Table:
    """The ``(file, pos)`` rows the tasks' delete files remove from the tasks' own data files
    (local paths; each delete file applies only to the data files whose task lists it)."""
    targets: dict[str, set[str]] = {}  # delete file -> the recorded data files it applies to
    for task in tasks:
        for delete_file in task.delete_files:
            targets.setdefault(delete_file.file_path, set()).add(task.file.file_path)
    parts = []
    for path, data_files in targets.items():
        positions = delete_positions(table, path)
        paths = positions.column("file_path")
        wanted = pc.is_in(paths, value_set=pa.array(sorted(data_files), paths.type))
        positions = positions.filter(wanted)
        if positions.num_rows:
            parts.append(positions)
    if not parts:
        return pa.table({FILE: pa.array([], pa.string()), "pos": pa.array([], pa.int64())})
    found = pa.concat_tables(parts)
    recorded = found.column("file_path")
    distinct = pc.unique(recorded)
    local = pa.array([local_path(p, table) for p in distinct.to_pylist()], pa.string())
    files = local.take(pc.index_in(recorded, value_set=distinct))  # vectorised: one lookup per distinct file
    return pa.table({FILE: files, "pos": found.column("pos").cast(pa.int64())})


_delete_cache: dict[str, pa.Table] = {}  # delete files are immutable: cache a few by path
_DELETE_CACHE_ROWS = 5_000_000


def delete_positions(table: Table, path: str) -> pa.Table:
    """The recorded ``(file_path, pos)`` rows of one position-delete file (cached: immutable)."""
    cached = _delete_cache.get(path)
    if cached is not None:
        return cached
    local = local_path(path, table)
    try:
        rows = pq.read_table(local, columns=["file_path", "pos"])
    except (OSError, pa.ArrowException) as e:
        raise StorageError(f"Cannot read the delete file {local} of {table.name()}: {e}") from e
    rows = rows.select(["file_path", "pos"]).cast(pa.schema([("file_path", pa.string()), ("pos", pa.int64())]))
    if sum(t.num_rows for t in _delete_cache.values()) + rows.num_rows > _DELETE_CACHE_ROWS:
        _delete_cache.clear()
    _delete_cache[path] = rows
    return rows


def source_with_deletes(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    tasks: Sequence[FileScanTask],
    keep_position: bool = False,
    deleted: pa.Table | None = None,
    name: str = DELETED,
    columns: Sequence[str] | None = None,
) -> exp.Expression:
    """A subquery over the tasks' data files without the rows their delete files remove.

    Registers the deleted ``(file, pos)`` pairs on ``con`` as ``name``. With
    ``keep_position`` the rows also carry the file name (``FILE``) and row number (``ROW``).
    ``columns``: the columns to read (default: all of the table's).
    """
    if deleted is None:
        deleted = deleted_rows(table, tasks)
    con.register(name, deleted)
    names = list(columns) if columns is not None else table.schema().as_arrow().names
    return without_deleted([local_path(t.file.file_path, table) for t in tasks], names, name, keep_position)


def without_deleted(
    paths: Sequence[str], columns: Sequence[str], deleted: str, keep_position: bool = False
) -> exp.Expression:
    """``read_parquet(paths)`` minus the rows listed in the registered relation ``deleted``
    (columns ``FILE``, ``pos``), as a sqlglot subquery with ``columns``."""
    files = exp.Anonymous(
        this="read_parquet",
        expressions=[
            exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
            exp.EQ(this=exp.column("filename"), expression=exp.Literal.string(FILE)),
            exp.EQ(this=exp.column(ROW), expression=exp.true()),
        ],
    )
    on = exp.and_(
        exp.EQ(this=exp.column(FILE, "d", quoted=True), expression=exp.column(FILE, "x", quoted=True)),
        exp.EQ(this=exp.column(ROW, "d", quoted=True), expression=exp.column("pos", "x", quoted=True)),
    )
    selected = [exp.column(c, "d", quoted=True) for c in columns]
    if keep_position:
        selected += [exp.column(FILE, "d", quoted=True), exp.column(ROW, "d", quoted=True)]
    query = (
        exp.select(*selected)
        .from_(exp.Table(this=files, alias=exp.TableAlias(this=exp.to_identifier("d"))))
        .join(exp.alias_(exp.to_table(deleted, quoted=True), "x", table=True), on=on, join_type="ANTI")
    )
    return query.subquery()


def local_path(uri: str, table: Table | None = None) -> str:
    """The local filesystem path of a file URI recorded in ``table``'s metadata."""
    return localize(getattr(table, "io", None), uri)


def localize(io: object, uri: str) -> str:
    """The local path of ``uri``, mapped by the box's FileIO from where the box was created
    to where it is now (a copied or moved box)."""
    if isinstance(io, BoxFileIO):
        uri = io.localize(uri)
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if "://" in uri:
        raise StorageError(f"lakebox reads local files only; got {uri}.")
    return uri


def parquet_source(table: Table, tasks: Sequence[FileScanTask]) -> exp.Expression:
    """``read_parquet([...])`` over the tasks' files, as a sqlglot expression (paths are literals)."""
    paths = exp.Array(expressions=[exp.Literal.string(local_path(t.file.file_path, table)) for t in tasks])
    return exp.Anonymous(this="read_parquet", expressions=[paths])


def arrow_scan(table: Table, tasks: Sequence[FileScanTask], snapshot_id: int) -> pa.Table:
    """pyiceberg's exact scan (applies delete files, maps columns by field id)."""
    snapshot = table.snapshot_by_id(snapshot_id)
    schema = table.schema()
    if snapshot is not None and snapshot.schema_id is not None:
        schema = table.schemas().get(snapshot.schema_id, schema)
    return ArrowScan(table.metadata, table.io, schema, ALWAYS_TRUE).to_table(tasks)


def read(
    table: Table,
    snapshot_id: int | None,
    schema: pa.Schema,
    order_by: Sequence[str] = (),
    tasks: Sequence[FileScanTask] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> pa.Table:
    """All rows of the table at ``snapshot_id`` in ``schema`` (columns and types), ordered by ``order_by``."""
    if tasks is None:
        tasks = plan(table, snapshot_id)
    if not tasks or snapshot_id is None:
        return schema.empty_table()
    con = connect()
    try:
        if duckdb_can_read(table, tasks):
            source: exp.Expression = parquet_source(table, tasks)
        elif duckdb_can_read_deleting(table, tasks):
            source = source_with_deletes(con, table, tasks)
        else:
            con.register("lakebox_scan", arrow_scan(table, tasks, snapshot_id))
            source = exp.to_identifier("lakebox_scan", quoted=True)
        query = exp.select(*[exp.column(name, quoted=True) for name in schema.names]).from_(source)
        if order_by:
            query = query.order_by(*[exp.column(name, quoted=True) for name in order_by])
        if limit is not None:
            query = query.limit(int(limit))
        if offset:
            query = query.offset(int(offset))
        result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
    except duckdb.Error as e:
        raise StorageError(f"Reading {table.name()} failed in DuckDB: {e}") from e
    finally:
        con.close()
    return conform(result, schema)


def conform(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a DuckDB/pyiceberg result to lakebox's output schema (metadata-only casts)."""
    if result.schema.equals(schema):
        return result
    return result.select(schema.names).cast(schema)
