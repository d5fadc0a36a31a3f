"""An in-memory index of the (key, event time) pairs each data file of a group holds.

Why: with random keys, file statistics prune nothing, so finding the files a small batch
touches meant reading the key columns of the whole group (locate.py) on every commit — a
1,000-row commit into 10M rows cost O(10M). The writer process keeps, per data file, the
sorted 64-bit hashes of its key tuples; a small batch is hashed and probed against them
(binary search), and only files with a hit go on to locate.py's exact check. Hash
collisions only cost a needless exact check; a pair is never missed because the index holds
every current file of the snapshot it is valid for, or is not used at all.

The index lives as long as the writer's ``GroupTable`` (one per box per process) and is
never persisted: hashes come from DuckDB's ``hash()``, which only has to agree with itself
within one process. It is built lazily (reading key columns once, as a locate would), kept
current by the writer's own commits (the files it wrote are hashed from the rows it wrote,
the files it removed are dropped) and re-synchronised from the snapshot's file list when
another process committed. It is not used for tables DuckDB cannot read exactly (delete
files, evolved schemas), nor past ``MAX_ROWS`` (memory: 8 bytes per stored row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from lakebox.errors import StorageError
from lakebox.offline import reader

MAX_ROWS = 40_000_000  # 320 MB of hashes; a bigger group locates by reading key columns
SMALL_BATCH = 100_000  # past this, one DuckDB pass over the key columns is as fast as probing


class KeyIndex:
    """Sorted key hashes per data file of one table, valid for one snapshot (``at``)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self.known = False  # whether ``files`` is exactly the files of snapshot ``at``
        self.at: int | None = None  # None: the table has no snapshot yet
        self.files: dict[str, np.ndarray | None] = {}  # data file path -> sorted key hashes (None: not read yet)
        self._refused: int | None = None  # a snapshot the index cannot serve (see _sync)
        self.rows = 0  # rows in the files of snapshot ``at``

    # -- answering ----------------------------------------------------------------------
    def candidates(self, table: Table, snapshot_id: int, batch_keys: pa.Table) -> set[str] | None:
        """The paths of the files that may hold a pair of ``batch_keys`` (storage types,
        columns = the table's keys); None when the index cannot answer (locate the slow way)."""
        if batch_keys.column_names != list(self.keys) or batch_keys.num_rows > SMALL_BATCH:
            return None
        if not self._sync(table, snapshot_id):
            return None
        unread = [path for path, stored in self.files.items() if stored is None]
        for path, stored in zip(unread, _file_hashes(table, unread, self.keys)):
            self.files[path] = stored
        needles = np.sort(hashes(batch_keys))
        return {path for path, stored in self.files.items() if stored is not None and len(stored) and _any_in(stored, needles)}

    # -- keeping it current -------------------------------------------------------------
    def committed(
        self,
        base: int | None,
        snapshot_id: int,
        removed: Iterable[DataFile],
        written: Sequence[tuple[pa.Table, list[DataFile]]],
    ) -> None:
        """The writer committed ``snapshot_id`` on top of ``base``: it removed ``removed`` and
        wrote each table of ``written`` as the listed files."""
        if base is None and not self.files:
            self.known, self.at = True, None  # the first commit of an empty table
        if not self.known or self.at != base:
            self.forget()  # not the state the commit started from: re-synchronise at next use
            return
        removed_rows = 0
        for data_file in removed:
            self.files.pop(data_file.file_path, None)
            removed_rows += data_file.record_count
        for rows, data_files in written:
            if not data_files:
                continue
            # pyiceberg splits a table into files by size in an order of its own: every file
            # of the table gets the hashes of the whole table (a superset: a false hit only
            # costs an exact check of that file). A big write is not hashed now (it would
            # slow every bulk load): its files are read when a small batch next needs them.
            stored = np.sort(hashes(rows.select(list(self.keys)))) if rows.num_rows <= SMALL_BATCH else None
            for data_file in data_files:
                self.files[data_file.file_path] = stored
        self.at = snapshot_id
        self.rows += sum(rows.num_rows for rows, _ in written) - removed_rows
        if self.rows > MAX_ROWS:
            self.forget()

    def forget(self) -> None:
        self.known = False
        self.files.clear()
        self.rows = 0

    def _sync(self, table: Table, snapshot_id: int) -> bool:
        """Make the index hold exactly the files of ``snapshot_id``; False if it cannot."""
        if self.known and self.at == snapshot_id:
            return True
        if self._refused == snapshot_id:
            return False
        tasks = reader.plan(table, snapshot_id)
        if not reader.duckdb_can_read(table, tasks) or sum(t.file.record_count for t in tasks) > MAX_ROWS:
            self.forget()
            self._refused = snapshot_id
            return False
        self.files = {path: self.files.get(path) for path in (t.file.file_path for t in tasks)}
        self.rows = sum(t.file.record_count for t in tasks)
        self.known, self.at = True, snapshot_id
        return True


def hashes(keys: pa.Table) -> np.ndarray:
    """DuckDB's 64-bit hash of each row's key tuple (same types in, same hash out)."""
    con = reader.cursor()
    try:
        con.register("lakebox_keys", keys)
        columns = [exp.column(name, quoted=True) for name in keys.column_names]
        query = exp.select(exp.Anonymous(this="hash", expressions=columns).as_("h")).from_("lakebox_keys")
        return con.sql(query.sql(dialect="duckdb")).fetchnumpy()["h"].astype(np.uint64, copy=False)
    except duckdb.Error as e:
        raise StorageError(f"Hashing keys failed in DuckDB: {e}") from e
    finally:
        con.close()


def _file_hashes(table: Table, paths: Sequence[str], keys: Sequence[str]) -> list[np.ndarray]:
    """Sorted key hashes of each data file (DuckDB reads the key columns only)."""
    columns = [exp.column(name, quoted=True) for name in keys]
    out = []
    con = reader.cursor()
    try:
        for path in paths:
            source = exp.Anonymous(this="read_parquet", expressions=[exp.Literal.string(reader.local_path(path, table))])
            query = exp.select(exp.Anonymous(this="hash", expressions=columns).as_("h")).from_(source)
            found = con.sql(query.sql(dialect="duckdb")).fetchnumpy()["h"]
            out.append(np.sort(found.astype(np.uint64, copy=False)))
    except duckdb.Error as e:
        raise StorageError(f"Indexing the keys of {table.name()} failed in DuckDB: {e}") from e
    finally:
        con.close()
    return out


def _any_in(stored: np.ndarray, needles: np.ndarray) -> bool:
    """Whether any of the sorted ``needles`` occurs in the sorted ``stored``."""
    positions = np.searchsorted(stored, needles)
    positions[positions == len(stored)] = len(stored) - 1
    return bool(np.any(stored[positions] == needles))
