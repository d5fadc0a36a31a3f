"""Reading a group's table at a snapshot: pyiceberg plans the files, DuckDB reads them.

The DuckDB iceberg extension cannot be downloaded on air-gapped machines, so lakebox gives
DuckDB the Parquet files that pyiceberg's scan planning returns. Two cases DuckDB cannot
read correctly on its own fall back to pyiceberg's Arrow scan, which is exact but slower:
files with delete files (written by merge-on-read engines), and tables whose schema has
evolved (DuckDB maps Parquet columns by name, Iceberg by field id).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask, Table

from lakebox.errors import StorageError
from lakebox.offline.fileio import BoxFileIO

ALWAYS_TRUE = AlwaysTrue()


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
