"""The stored rows a commit replaced or deleted, read only when something asks for them.

Why: a merge-on-read update finds the rows it replaces by their (key, event time) pairs,
which needs the key columns only. The full rows are needed by one consumer, the statistics
step (it subtracts them from the group's running summary), which for a big batch runs in the
background after the commit. Reading the full rows inside the commit read every column of
every file holding an updated key: with random keys a 1% update of a 10M-row group read the
whole group (~1 s) before it could commit. Here the commit records ``(file, position)`` of
each replaced row, and ``table()`` reads just the row groups holding them, with pyarrow, when
the statistics step asks.

The files stay readable until then: a merge-on-read commit keeps them live (it only adds a
delete file), and only a later compaction removes them from the table, after the statistics
jobs of the commits before it (``write/statistics.py``) have run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.table import Table

from lakebox.errors import StorageError
from lakebox.offline import reader


class RemovedRows:
    """Stored rows removed by a commit, in the table's storage schema: given as a table
    (a copy-on-write rewrite read them anyway) or as sorted ``(file_path, pos)`` positions
    in the data files of ``source`` (read on the first ``table()``)."""

    def __init__(
        self, rows: pa.Table | None = None, *, positions: pa.Table | None = None, source: Table | None = None
    ) -> None:
        if (rows is None) == (positions is None) or (positions is not None and source is None):
            raise StorageError("Internal error: removed rows need either rows or positions with their table.")
        self._rows = rows
        self._positions = positions
        self._source = source

    @property
    def num_rows(self) -> int:
        return self._rows.num_rows if self._rows is not None else self._positions.num_rows  # type: ignore[union-attr]

    def read_cost(self) -> int:
        """Rows ``table()`` would decode: those in the Parquet row groups holding the
        positions (Parquet footers only), 0 when the rows are at hand."""
        if self._rows is not None:
            return 0
        assert self._positions is not None and self._source is not None
        return sum(_touched_rows(reader.local_path(path, self._source), pos) for path, pos in _by_file(self._positions))

    def table(self) -> pa.Table:
        """The rows (storage schema), sorted by file and position for located rows."""
        if self._rows is None:
            assert self._positions is not None and self._source is not None
            self._rows = _read_positions(self._source, self._positions)
            self._positions = self._source = None  # nothing else is kept alive for it
        return self._rows


def concat(parts: Sequence[RemovedRows]) -> RemovedRows | None:
    """One ``RemovedRows`` for ``parts`` (None when they hold no row). Positions are read
    only when the result's ``table()`` is called."""
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return _Concatenated(parts)


class _Concatenated(RemovedRows):
    def __init__(self, parts: Sequence[RemovedRows]) -> None:
        self._parts = list(parts)

    @property
    def num_rows(self) -> int:
        return sum(p.num_rows for p in self._parts)

    def read_cost(self) -> int:
        return sum(p.read_cost() for p in self._parts)

    def table(self) -> pa.Table:
        return pa.concat_tables([p.table() for p in self._parts])


def _by_file(positions: pa.Table) -> list[tuple[str, np.ndarray]]:
    """``(recorded file path, its sorted positions)`` for each file of sorted ``positions``."""
    paths = positions.column("file_path").to_numpy(zero_copy_only=False)
    pos = positions.column("pos").to_numpy()
    starts = np.flatnonzero(np.r_[True, paths[1:] != paths[:-1]]) if len(paths) else np.zeros(0, np.intp)
    return [(str(paths[b]), pos[b:e]) for b, e in zip(starts, [*starts[1:], len(paths)], strict=True)]


def _read_positions(table: Table, positions: pa.Table) -> pa.Table:
    """The stored rows at ``positions`` (recorded ``file_path``, ``pos``; sorted), reading
    only the Parquet row groups that hold them. Columns are matched by name, as DuckDB's
    reads are (the locating step only runs on tables DuckDB reads exactly)."""
    storage = table.schema().as_arrow()
    out = [_rows_of_file(reader.local_path(path, table), pos, storage) for path, pos in _by_file(positions)]
    return pa.concat_tables(out) if out else storage.empty_table()


def _row_groups(path: str) -> tuple[pq.ParquetFile, np.ndarray, np.ndarray]:
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise StorageError(f"Reading the rows a commit replaced from {path} failed: {e}") from e
    metadata = parquet.metadata
    sizes = np.array([metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)], np.int64)
    return parquet, sizes, np.cumsum(sizes)


def _touched_rows(path: str, pos: np.ndarray) -> int:
    _, sizes, ends = _row_groups(path)
    return int(sizes[np.unique(np.minimum(np.searchsorted(ends, pos, side="right"), len(sizes) - 1))].sum()) if len(sizes) else 0


def _rows_of_file(path: str, pos: np.ndarray, storage: pa.Schema) -> pa.Table:
    parquet, sizes, ends = _row_groups(path)
    if len(pos) and (pos[0] < 0 or pos[-1] >= (ends[-1] if len(ends) else 0)):
        raise StorageError(f"Position {int(pos[-1])} is past the end of {path} ({int(ends[-1]) if len(ends) else 0} rows).")
    group = np.searchsorted(ends, pos, side="right")  # the row group of each position
    wanted = np.unique(group)
    # where each wanted group starts in the concatenation of the wanted groups
    offset = np.zeros(len(sizes), np.int64)
    offset[wanted] = np.cumsum(sizes[wanted]) - sizes[wanted]
    local = pos - (ends[group] - sizes[group]) + offset[group]
    try:
        rows = parquet.read_row_groups(wanted.tolist(), columns=storage.names, use_threads=False)
    except (OSError, pa.ArrowException) as e:
        raise StorageError(f"Reading the rows a commit replaced from {path} failed: {e}") from e
    return rows.take(pa.array(local)).cast(storage)
