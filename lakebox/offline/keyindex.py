"""An in-memory index of the (key, event time) pairs the data files of a group hold.

Why: with random keys, file statistics prune nothing, so finding the files a batch touches
meant reading the key columns of the whole group (locate.py) on every commit — a 1,000-row
commit into 10M rows cost O(10M), and a 1M-row batch of new keys read every stored key. The
writer process keeps the sorted 64-bit hashes of the key tuples it knows; a batch is hashed
and probed against them (binary search), and only files with a hit go on to locate.py's
exact check. Hash collisions only cost a needless exact check; a pair is never missed
because the index covers every current file of the snapshot it is valid for, or is not used.

Layout: every write is a *unit* (the files pyiceberg wrote for one table of rows, in an
order of its own, so a hit on a unit makes all its live files candidates). The hashes live
in sorted *runs*, each with the unit of every entry; a new write adds a run, and a run is
merged with the one before it while that one is at most twice as big (so there are
O(log rows) runs, and each hash is merged O(log rows) times). Files removed by a commit
leave dead entries behind, dropped once they outnumber the live ones.

The index lives as long as the writer's ``GroupTable`` (one per box per process) and is
never persisted: hashes come from DuckDB's ``hash()``, which only has to agree with itself
within one process. It is built lazily (a file's key columns are read the first time a
batch needs them), kept current by the writer's own commits (a write is indexed with the
hashes its batch was probed with; one that was not probed, such as the first load of an
empty group, is read from its files when first needed) and re-synchronised from the
snapshot's file list when another process committed. It is not used for tables DuckDB
cannot read exactly (other engines' delete files, evolved schemas), nor past ``max_rows()`` rows
(memory: 8 to 12 bytes per stored row).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table

from lakebox.errors import StorageError, ValidationError
from lakebox.offline import reader


@lru_cache(maxsize=1)
def max_rows() -> int:
    """Rows a group may have for its key index (12 bytes each): 1/8 of this machine's memory
    (24 GiB: ~268M rows), at least 40M, or ``LAKEBOX_KEY_INDEX_MAX_ROWS``. A bigger group
    locates by reading key columns: a fixed 40M made every upsert into a 41M-row group read
    all its keys (a 1,000-row commit went from 40 ms to 0.9 s)."""
    configured = os.environ.get("LAKEBOX_KEY_INDEX_MAX_ROWS")
    if configured:
        try:
            return max(int(configured), 0)
        except ValueError:
            raise ValidationError(
                f"LAKEBOX_KEY_INDEX_MAX_ROWS={configured!r} is not a number of rows; unset it or give an integer."
            ) from None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return max(40_000_000, memory // 8 // 12)

# Runs are not merged past this size: a merge copies both runs (~10 ns per entry: 0.25 s for
# 16M), while each run costs a probe ~30 ms per 1M-row batch. At 2M, a 10M-row group had 5
# runs (150 ms per probe) and a 40M-row one 20 (600 ms): probing grew with the group. At 16M,
# geometric merging keeps O(log) runs below it (two or three at 10M rows).
MERGE_MAX = 16_000_000
UNIT = np.int32


@dataclass
class _Run:
    """Sorted key hashes with the unit each came from (``owners``; None: all from ``unit``)."""

    hashes: np.ndarray
    owners: np.ndarray | None
    unit: int = -1

    def owners_array(self) -> np.ndarray:
        return self.owners if self.owners is not None else np.full(len(self.hashes), self.unit, UNIT)

    def hits(self, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(units, found)``: the distinct units of the entries equal to one of the sorted
        ``needles``, and the distinct needles that are equal to an entry."""
        stored = self.hashes
        none = (np.zeros(0, UNIT), np.zeros(0, np.uint64))
        if len(stored) == 0 or len(needles) == 0:
            return none
        if len(stored) <= len(needles):  # search the smaller side in the bigger one
            positions = np.minimum(np.searchsorted(needles, stored), len(needles) - 1)
            matched = needles[positions] == stored
            if not matched.any():
                return none
            found = np.unique(stored[matched])
            units = np.unique(self.owners[matched]) if self.owners is not None else np.array([self.unit], UNIT)
            return units, found
        positions = np.minimum(np.searchsorted(stored, needles), len(stored) - 1)
        found = np.unique(needles[stored[positions] == needles])
        if len(found) == 0:
            return none
        if self.owners is None:
            return np.array([self.unit], UNIT), found
        low = np.searchsorted(stored, found, "left")  # every entry of a found hash (several units)
        high = np.searchsorted(stored, found, "right")
        lengths = high - low
        index = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(low, lengths)
        return np.unique(self.owners[index]), found


def _merge(older: _Run, newer: _Run) -> _Run:
    hashes = np.concatenate([older.hashes, newer.hashes])
    owners = np.concatenate([older.owners_array(), newer.owners_array()])
    order = np.argsort(hashes, kind="stable")  # two sorted runs: timsort merges them in O(n)
    return _Run(hashes[order], owners[order])


class KeyIndex:
    """Sorted key hashes of the data files of one table, valid for one snapshot (``at``)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        self.known = False  # whether the index covers exactly the files of snapshot ``at``
        self.at: int | None = None  # None: the table has no snapshot yet
        self.rows = 0  # rows in the files of snapshot ``at``
        self._refused: int | None = None  # a snapshot the index cannot serve (see _sync)
        self._clear()

    def _clear(self) -> None:
        self.file_unit: dict[str, int] = {}  # live data file path -> its unit
        self.unread: set[str] = set()  # live files whose hashes are not in a run yet
        self.units: dict[int, set[str]] = {}  # unit -> its live files
        self.runs: list[_Run] = []
        self.entries = 0  # hashes held in runs (live or dead)
        self._next_unit = 0

    # -- answering ----------------------------------------------------------------------
    def candidates(
        self, table: Table, snapshot_id: int, batch_keys: pa.Table, needles: np.ndarray | None = None
    ) -> tuple[set[str], np.ndarray] | None:
        """``(paths, hit)``: the paths of the files that may hold a pair of ``batch_keys``
        (storage types, columns = the table's keys) and the sorted distinct hashes that hit an
        entry (only rows with one of them can match: locate.py needs no other); None when the
        index cannot answer (locate the slow way). ``needles``: the batch's sorted hashes, if
        the caller has them (``sorted_hashes``)."""
        if batch_keys.column_names != list(self.keys):
            return None
        if not self._sync(table, snapshot_id):
            return None
        if self.unread:
            paths = sorted(self.unread)
            self._add_files(_file_hashes(table, paths, self.keys), paths)
            self.unread.clear()
        if needles is None:
            needles = sorted_hashes(batch_keys)
        found: set[str] = set()
        hit: list[np.ndarray] = []
        for run in self.runs:
            units, hashes_found = run.hits(needles)
            for unit in units.tolist():
                found |= self.units.get(unit, set())
            hit.append(hashes_found)
        return found, (np.unique(np.concatenate(hit)) if hit else np.zeros(0, np.uint64))

    # -- keeping it current -------------------------------------------------------------
    def committed(
        self,
        base: int | None,
        snapshot_id: int,
        removed: Iterable[DataFile],
        written: Sequence[tuple[list[DataFile], np.ndarray | None]],
    ) -> None:
        """The writer committed ``snapshot_id`` on top of ``base``: it removed ``removed`` and
        wrote each table of ``written`` as the listed files, with the sorted hashes of its
        keys (None: read them from the files when first needed)."""
        if base is None and not self.file_unit and not self.unread:
            self.known, self.at = True, None  # the first commit of an empty table
        if not self.known or self.at != base:
            self.forget()  # not the state the commit started from: re-synchronise at next use
            return
        for data_file in removed:
            if data_file.content != DataFileContent.DATA:  # a delete file (merge-on-read) holds no pairs
                continue
            self._drop(data_file.file_path)
            self.rows -= data_file.record_count
        for data_files, hashes in written:
            if not data_files:
                continue
            if hashes is None:
                self.unread.update(f.file_path for f in data_files)
            else:
                self._add_run(hashes, [f.file_path for f in data_files])
            self.rows += sum(f.record_count for f in data_files)
        self.at = snapshot_id
        if self.rows > max_rows():
            self.forget()

    def forget(self) -> None:
        self.known = False
        self.rows = 0
        self._clear()

    def _add_files(self, hashes: Sequence[np.ndarray], paths: Sequence[str]) -> None:
        """Index files read from disk (each its own unit) as ONE run: a stable argsort of
        their sorted hashes merges them in O(n log files). Added one run per file, the
        geometric merges copied every entry log(files) times: 1.35 s for a 10M-row group's 20
        files against 0.3 s, the first time a process probed it."""
        if len(paths) == 1:
            self._add_run(hashes[0], paths)
            return
        units = np.arange(self._next_unit, self._next_unit + len(paths), dtype=UNIT)
        self._next_unit += len(paths)
        for unit, path in zip(units.tolist(), paths, strict=True):
            self.units[unit] = {path}
            self.file_unit[path] = unit
        joined = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        order = np.argsort(joined, kind="stable")
        owners = np.repeat(units, [len(h) for h in hashes])
        self.runs.append(_Run(joined[order], owners[order]))
        self.entries += len(joined)
        self._merge_tail()

    def _add_run(self, hashes: np.ndarray, paths: Sequence[str]) -> None:
        unit = self._next_unit
        self._next_unit += 1
        self.units[unit] = set(paths)
        for path in paths:
            self.file_unit[path] = unit
        self.runs.append(_Run(hashes, None, unit))
        self.entries += len(hashes)
        self._merge_tail()

    def _merge_tail(self) -> None:
        """Merge the newest run into the one before while that one is at most twice as big."""
        while (
            len(self.runs) >= 2
            and len(self.runs[-2].hashes) <= 2 * len(self.runs[-1].hashes)
            and len(self.runs[-2].hashes) + len(self.runs[-1].hashes) <= MERGE_MAX
        ):
            newer = self.runs.pop()
            self.runs[-1] = _merge(self.runs[-1], newer)

    def _drop(self, path: str) -> None:
        self.unread.discard(path)
        unit = self.file_unit.pop(path, None)
        if unit is None:
            return
        live = self.units[unit]
        live.discard(path)
        if not live:
            del self.units[unit]
            if self.entries > 2 * max(self.rows, 1) and self.entries > 100_000:
                self._purge()

    def _purge(self) -> None:
        """Drop the entries of dead units (all their files were removed)."""
        alive = np.zeros(self._next_unit, dtype=bool)
        alive[list(self.units)] = True
        runs = []
        for run in self.runs:
            if run.owners is None:
                if alive[run.unit]:
                    runs.append(run)
                continue
            keep = alive[run.owners]
            if keep.any():
                runs.append(_Run(run.hashes[keep], run.owners[keep]))
        self.runs = runs
        self.entries = sum(len(r.hashes) for r in runs)

    def _sync(self, table: Table, snapshot_id: int) -> bool:
        """Make the index cover exactly the files of ``snapshot_id``; False if it cannot."""
        if self.known and self.at == snapshot_id:
            return True
        if self._refused == snapshot_id:
            return False
        tasks = reader.plan(table, snapshot_id)
        # lakebox's own position deletes keep the index usable: the hashes of a file with
        # deleted rows are a superset of its live pairs, and locate.py checks exactly
        if not reader.duckdb_can_read_deleting(table, tasks) or sum(t.file.record_count for t in tasks) > max_rows():
            self.forget()
            self._refused = snapshot_id
            return False
        current = {t.file.file_path for t in tasks}
        for path in [p for p in (*self.file_unit, *self.unread) if p not in current]:
            self._drop(path)
        self.unread |= {p for p in current if p not in self.file_unit}
        self.rows = sum(t.file.record_count for t in tasks)
        self.known, self.at = True, snapshot_id
        return True


def hashes(keys: pa.Table) -> np.ndarray:
    """DuckDB's 64-bit hash of each row's key tuple (same types in, same hash out)."""
    con = reader.cursor()
    try:
        con.register("lakebox_keys", keys)
        return con.execute(_hash_sql(tuple(keys.column_names))).fetchnumpy()["h"].astype(np.uint64, copy=False)
    except duckdb.Error as e:
        raise StorageError(f"Hashing keys failed in DuckDB: {e}") from e
    finally:
        con.close()


@lru_cache(maxsize=64)
def _hash_sql(names: tuple[str, ...]) -> str:
    """The hashing query for key columns ``names`` (built once per key set: every commit hashes)."""
    columns = [exp.column(name, quoted=True) for name in names]
    return (
        exp.select(exp.Anonymous(this="hash", expressions=columns).as_("h")).from_("lakebox_keys").sql(dialect="duckdb")
    )


def sorted_hashes(keys: pa.Table) -> np.ndarray:
    return np.sort(hashes(keys))


def _file_hashes(table: Table, paths: Sequence[str], keys: Sequence[str]) -> list[np.ndarray]:
    """Sorted key hashes of each data file (DuckDB reads the key columns only), two files
    at a time: reading, hashing and sorting run outside the GIL."""
    columns = [exp.column(name, quoted=True) for name in keys]

    def one(path: str) -> np.ndarray:
        source = exp.Anonymous(this="read_parquet", expressions=[exp.Literal.string(reader.local_path(path, table))])
        query = exp.select(exp.Anonymous(this="hash", expressions=columns).as_("h")).from_(source)
        con = reader.cursor()
        try:
            found = con.sql(query.sql(dialect="duckdb")).fetchnumpy()["h"]
        except duckdb.Error as e:
            raise StorageError(f"Indexing the keys of {table.name()} failed in DuckDB: {e}") from e
        finally:
            con.close()
        return np.sort(found.astype(np.uint64, copy=False))

    if len(paths) <= 1:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lakebox-keyindex") as pool:
        return list(pool.map(one, paths))
