"""Writing one feature group's Iceberg table: one lakebox commit = one Iceberg snapshot.

Every commit is a single snapshot produced inside one pyiceberg transaction, so a commit is
either fully visible or not at all. The snapshot summary carries the lakebox commit id, its
kind and its row counts: Iceberg is the source of truth and the catalog's commit log can be
rebuilt from it after a crash.

Merge strategy (pyiceberg's ``upsert`` is quadratic on composite keys and crashes at 10k rows,
apache/iceberg-python#3508): the group's key index (keyindex.py) gives the stored rows equal to
the batch's (key, event time) pairs; merge-on-read (the default) deletes them by position,
copy-on-write rewrites the files holding them without them. Where the index declines, file
statistics prune the files and DuckDB reads their key columns (locate.py, deletes.locate). The
batch itself is appended, sorted by key. A batch of new keys or new event times touches no
existing file and is a plain fast append.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import And, BooleanExpression, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import FileScanTask, Table, TableProperties, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import _apply_table_update, _TableMetadataUpdateContext
from pyiceberg.table.update.snapshot import _SnapshotProducer
from pyiceberg.utils.properties import property_as_bool

from lakebox.boxformat import KEYINDEX_DIRNAME
from lakebox.catalog.groups import CommitRow
from lakebox.errors import ConflictError, StorageError
from lakebox.offline import deletes, locate, reader, rollback
from lakebox.offline import removed as removed_rows
from lakebox.offline.batch import key_order
from lakebox.offline.keyindex import Found, KeyIndex, Written, hashes
from lakebox.offline.keywork import Prepared
from lakebox.offline.lock import WriteLock
from lakebox.offline.removed import RemovedRows
from lakebox.offline.warehouse import Warehouse

log = logging.getLogger(__name__)

PREFIX = "lakebox."
MAX_ATTEMPTS = 5
PARALLEL_TAKE_ROWS = 100_000
LOCK_TIMEOUT_S = 120.0


@dataclass
class Change:
    """What one commit does to the table's files; the row counts go into the snapshot summary."""

    kind: str
    delete_files: list[DataFile] = field(default_factory=list)
    add_files: list[DataFile] = field(default_factory=list)  # existing files re-added (rollback)
    add_tables: list[pa.Table] = field(default_factory=list)  # new rows to write
    add_hashes: dict[int, np.ndarray] = field(default_factory=dict)  # add_tables index -> key hashes in row order
    prepared: dict[int, Prepared] = field(default_factory=dict)  # add_tables index -> its key index entries
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    max_event_us: int | None = None  # an upper bound of every event time in the table after it
    removed: list[RemovedRows] = field(default_factory=list)  # stored rows this change replaces or deletes
    position_deletes: list[pa.Table] = field(default_factory=list)  # merge-on-read: (file_path, pos) rows deleted
    delete_file: str | None = None  # the position-delete file written for them (set when committing)


@dataclass
class WriteResult:
    """A committed insert or delete and the stored rows it replaced or deleted (storage
    schema; read when ``removed.table()`` is called, see ``removed.py``)."""

    commit: CommitRow
    removed: RemovedRows | None


def commit_from_snapshot(snapshot: object) -> CommitRow | None:
    """The lakebox commit recorded in an Iceberg snapshot's summary (None if not ours)."""
    summary = snapshot.summary  # type: ignore[attr-defined]
    if summary is None or summary[PREFIX + "commit-id"] is None:
        return None
    return CommitRow(
        commit_id=int(summary[PREFIX + "commit-id"]),
        snapshot_id=snapshot.snapshot_id,  # type: ignore[attr-defined]
        committed_ms=snapshot.timestamp_ms,  # type: ignore[attr-defined]
        kind=str(summary[PREFIX + "kind"]),
        rows_inserted=int(summary[PREFIX + "rows-inserted"] or 0),
        rows_updated=int(summary[PREFIX + "rows-updated"] or 0),
        rows_deleted=int(summary[PREFIX + "rows-deleted"] or 0),
    )


def table_commits(table: Table) -> list[CommitRow]:
    """Every lakebox commit still present in the table's snapshots, oldest first."""
    found = [commit_from_snapshot(s) for s in table.metadata.snapshots]
    return sorted((c for c in found if c is not None), key=lambda c: c.commit_id)


def last_commit_id(table: Table) -> int:
    """The highest lakebox commit id in the table (0 for none), without walking all snapshots.

    Snapshots are listed in the order they were added and commit ids only grow, so the last
    lakebox snapshot in the list holds the highest id (snapshots of other engines are skipped).
    """
    for snapshot in reversed(table.metadata.snapshots):
        commit = commit_from_snapshot(snapshot)
        if commit is not None:
            return commit.commit_id
    return 0


class _Transaction(Transaction):
    """pyiceberg 0.12's Transaction rebuilds and deep-copies the whole table metadata on every
    read of ``table_metadata`` (about 15 per commit), each O(snapshots): commits slowed down
    with history. Here it is rebuilt only when updates are staged (``_updates`` is replaced by
    a new tuple) and never deep-copied: metadata models are frozen and every update returns a
    new model with new lists. The catalog's commit still validates the final metadata.
    (Private pyiceberg helpers; pyiceberg is pinned.)
    """

    _cache: tuple[object, TableMetadata] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        cache = self._cache
        if cache is not None and cache[0] is self._updates:
            return cache[1]
        context = _TableMetadataUpdateContext()
        metadata = self._table.metadata
        for update in self._updates:
            metadata = _apply_table_update(update, metadata, context)
        self._cache = (self._updates, metadata)
        return metadata


class GroupTable:
    """The offline table of one feature group, with its key columns."""

    def __init__(
        self,
        warehouse: Warehouse,
        table_name: str,
        primary_key: Sequence[str],
        event_time: str | None,
        lock_dir: Path,
        index_dir: Path | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.table_name = table_name
        self.primary_key = tuple(primary_key)
        self.event_time = event_time
        self.keys = (*self.primary_key, *((event_time,) if event_time else ()))
        self.lock = WriteLock(lock_dir / f"{table_name}.lock", timeout=LOCK_TIMEOUT_S, name=table_name)
        # used and kept current only while the lock is held; on disk beside the lock folder by default
        index_root = index_dir if index_dir is not None else lock_dir.parent / KEYINDEX_DIRNAME
        self.key_index = KeyIndex(self.keys, index_root / table_name, self.lock)
        self._committing: Table | None = None  # the table as this writer last committed it (lock held)

    def load(self) -> Table:
        return self.warehouse.load(self.table_name)

    def deletes_piled_up(self) -> bool:
        """Whether the merge-on-read deletes of the table as this writer last committed it
        call for a compaction (``deletes.should_fold``; reads no manifest)."""
        table = self._committing
        return table is not None and deletes.should_fold(table)

    # -- public write operations --------------------------------------------------------
    def insert(self, batch: pa.Table) -> WriteResult:
        """Upsert ``batch`` by (primary key, event time): existing pairs are replaced, new ones appended.

        The result carries the stored rows the batch replaced (None when it replaced none).
        """
        planned: list[Change] = []

        def planner(table: Table, snapshot: int | None) -> Change:
            planned.append(self._plan_insert(table, snapshot, batch))
            return planned[-1]

        commit = self.commit(planner)
        assert commit is not None
        return WriteResult(commit, _removed(planned[-1]))

    def delete_keys(self, keys: pa.Table) -> WriteResult | None:
        """Delete the rows matching ``keys`` (all its columns); None when nothing matched.

        The result carries the stored rows deleted.
        """
        planned: list[Change | None] = []

        def planner(table: Table, snapshot: int | None) -> Change | None:
            planned.append(self._plan_delete(table, snapshot, keys))
            return planned[-1]

        commit = self.commit(planner)
        if commit is None:
            return None
        change = planned[-1]
        assert change is not None
        return WriteResult(commit, _removed(change))

    def rollback(self, snapshot_id: int) -> CommitRow:
        """A new commit whose data equals the data at ``snapshot_id``."""
        commit = self.commit(lambda table, snapshot: self._plan_rollback(table, snapshot, snapshot_id))
        assert commit is not None
        return commit

    def compact(
        self,
        target_rows: int = 5_000_000,
        on_commit: Callable[[CommitRow], None] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> CommitRow | None:
        """Rewrite the current small files into few large ones (same rows); None if nothing to do.

        Reads and writes WITHOUT the write lock and takes it only to commit (so do not call it
        holding the lock); ``on_commit(commit)`` runs while the lock is still held.
        """
        from lakebox.offline import maintenance  # the work lives there (it imports this module)

        return maintenance.compact(self, target_rows, on_commit=on_commit, progress=progress)

    # -- the commit loop ----------------------------------------------------------------
    def commit(self, planner: Callable[[Table, int | None], Change | None]) -> CommitRow | None:
        self.lock.acquire("commit")  # raises ConflictError naming the holder on timeout
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                table = self._load_for_commit()
                current = table.current_snapshot()
                change = planner(table, current.snapshot_id if current else None)
                if change is None:
                    return None
                commit_id = last_commit_id(table) + 1
                written: list[str] = []
                base = current.snapshot_id if current else None
                try:
                    produced = self._apply(table, change, commit_id, written)
                except CommitFailedException as e:
                    self._committing = None
                    _delete_files(table, written)
                    _discard_prepared(change)
                    if attempt == MAX_ATTEMPTS:
                        raise ConflictError(
                            f"Committing to {self.table_name} failed {MAX_ATTEMPTS} times because other "
                            "writers committed concurrently. Retry the operation."
                        ) from e
                    time.sleep(random.uniform(0.05, 0.2) * attempt)
                    continue
                except BaseException:
                    self._committing = None  # the table object may be half-way through a commit
                    _delete_files(table, written)
                    _discard_prepared(change)
                    raise
                # the transaction left the table object at the committed metadata: no reload
                for snapshot in reversed(table.metadata.snapshots):
                    commit = commit_from_snapshot(snapshot)
                    if commit is not None and commit.commit_id == commit_id:
                        self._index(table, base, commit.snapshot_id, change, produced)
                        return commit
                raise StorageError(f"Commit {commit_id} of {self.table_name} is missing after committing.")
            raise AssertionError("unreachable")
        finally:
            self.lock.release()

    def _index(
        self,
        table: Table,
        base: int | None,
        snapshot_id: int,
        change: Change,
        produced: list[tuple[int, pa.Table, list[DataFile]]],
    ) -> None:
        """Tell the key index what the commit did (it was committed: a failure here only
        costs the index, which is rebuilt from the files when next needed)."""
        if change.add_files:  # re-added old files (rollback): rebuilt at next use
            self.key_index.forget()
            return
        try:
            written = []
            for i, rows, files in produced:
                prepared = change.prepared.pop(i, None)
                written.append(Written(files, rows.select(list(self.keys)), change.add_hashes.get(i), prepared))
            _discard_prepared(change)  # (tables that wrote no file)
            deleted = None
            if change.delete_file is not None:
                deleted = (change.delete_file, pa.concat_tables([p for p in change.position_deletes if p.num_rows]))
            self.key_index.committed(table, base, snapshot_id, change.delete_files, written, deleted)
        except Exception:  # noqa: BLE001 - the commit is durable; never report it as failed for its index
            log.warning("the key index of %s is rebuilt after a failure to update it", self.table_name, exc_info=True)
            try:
                self.key_index.forget()
            except OSError:
                pass

    def _load_for_commit(self) -> Table:
        """The table to plan a commit on. Loading parses the whole metadata.json (it grows with
        history); when the catalog still points at the metadata this writer committed last,
        that table object is current and is reused (only under the lock: nobody else mutates it)."""
        cached = self._committing
        if cached is not None and self.warehouse.metadata_location(self.table_name) == cached.metadata_location:
            return cached
        self._committing = self.load()
        return self._committing

    def _apply(
        self, table: Table, change: Change, commit_id: int, written: list[str]
    ) -> list[tuple[int, pa.Table, list[DataFile]]]:
        """Commit ``change`` as one snapshot; returns each table written (its index in
        ``change.add_tables``, its rows) with its data files."""
        properties = {
            PREFIX + "commit-id": str(commit_id),
            PREFIX + "kind": change.kind,
            PREFIX + "rows-inserted": str(change.rows_inserted),
            PREFIX + "rows-updated": str(change.rows_updated),
            PREFIX + "rows-deleted": str(change.rows_deleted),
            PREFIX + "writer-pid": str(os.getpid()),
        }
        if change.max_event_us is not None:
            properties[PREFIX + "max-event-time"] = str(change.max_event_us)
        if os.environ.get("LAKEBOX_EXECUTION_ID"):  # a job's execution (lakebox/jobs): its commits are its own
            properties[PREFIX + "execution-id"] = os.environ["LAKEBOX_EXECUTION_ID"]
        tx: Transaction = _Transaction(table)
        update = tx.update_snapshot(snapshot_properties=properties)
        if change.position_deletes or any(f.content != DataFileContent.DATA for f in change.delete_files):
            adds = bool(change.add_tables or change.add_files)
            operation = deletes.commit_operation(adds, bool(change.delete_files))
            producer: _SnapshotProducer = deletes.RowDelta(tx, table.io, properties, operation)
        elif change.delete_files:
            producer = update.overwrite()
        elif property_as_bool(table.metadata.properties, TableProperties.MANIFEST_MERGE_ENABLED, True):
            producer = update.merge_append()  # bounds the manifests a scan reads (TABLE_PROPERTIES)
        else:
            producer = update.fast_append()
        produced: list[tuple[int, pa.Table, list[DataFile]]] = []
        with producer:
            counter = itertools.count(0)
            for data_file in change.delete_files:
                producer.delete_data_file(data_file)
            for data_file in change.add_files:
                producer.append_data_file(data_file)
            for index, new_rows in enumerate(change.add_tables):
                if new_rows.num_rows == 0:
                    continue
                files = []
                for data_file in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata,
                    df=new_rows,
                    io=table.io,
                    write_uuid=producer.commit_uuid,
                    counter=counter,
                ):
                    written.append(data_file.file_path)
                    producer.append_data_file(data_file)
                    files.append(data_file)
                produced.append((index, new_rows, files))
            positions = [p for p in change.position_deletes if p.num_rows]
            if positions:
                delete_file = deletes.write_file(
                    table, tx.table_metadata, pa.concat_tables(positions), producer.commit_uuid
                )
                written.append(delete_file.file_path)
                producer.append_data_file(delete_file)
                change.delete_file = delete_file.file_path
        tx.commit_transaction()
        return produced

    # -- planners -----------------------------------------------------------------------
    def _plan_insert(self, table: Table, snapshot_id: int | None, batch: pa.Table) -> Change:
        # Sorted by key, each written file covers a narrow key range: its statistics (file
        # and row group min/max) then prune well for later merges and point lookups. (The
        # order is the one the batch's duplicate check computed, see batch.key_order.)
        storage = _to_storage(_take(batch, key_order(batch, self.keys)), table)
        change = Change(kind="insert", add_tables=[storage])
        batch_keys = storage.select(list(self.keys))
        bound = _max_event(table, snapshot_id)
        probe = snapshot_id is not None
        if self.event_time is not None:
            times = pc.min_max(storage.column(self.event_time).cast(pa.int64()))
            first, last = times["min"].as_py(), times["max"].as_py()
            change.max_event_us = max(last, bound) if bound is not None else (last if snapshot_id is None else None)
            # Appending newer event times than any stored (time series) can replace nothing:
            # skip planning, which reads every manifest.
            probe = probe and (bound is None or first <= bound)
        found = None
        if probe:
            # the batch's hashes look up the key index, then index the rows as written
            row_hashes = hashes(batch_keys)
            change.add_hashes[0] = row_hashes
            found = self._lookup(table, snapshot_id, batch_keys, row_hashes, np.sort(row_hashes))
            if found is not None:  # its entries are built and written while its data files are
                change.prepared[0] = self.key_index.prepare(batch_keys, row_hashes)
        try:
            self._replace(table, snapshot_id, batch_keys if probe else None, found, change)
        except BaseException:
            _discard_prepared(change)
            raise
        replaced = sum(r.num_rows for r in change.removed)
        change.rows_updated = replaced
        change.rows_inserted = storage.num_rows - replaced
        return change

    def _plan_delete(self, table: Table, snapshot_id: int | None, keys: pa.Table) -> Change | None:
        change = Change(kind="delete", max_event_us=_max_event(table, snapshot_id))  # still an upper bound
        keys = _to_storage(keys, table)
        self._replace(table, snapshot_id, keys, self._lookup(table, snapshot_id, keys), change)
        change.rows_deleted = sum(r.num_rows for r in change.removed)
        return change if change.delete_files or change.position_deletes else None

    def _replace(
        self, table: Table, snapshot_id: int | None, keys: pa.Table | None, found: Found | None, change: Change
    ) -> None:
        """Remove the stored rows matching ``keys`` (None: none can match): the key index
        found them (``found``), or file statistics prune the files to search."""
        if snapshot_id is None or keys is None or keys.num_rows == 0:
            return
        if found is not None:
            if not found.paths:
                return
            if deletes.merge_on_read(table):  # the index gave the rows: no file is read
                change.position_deletes.append(found.positions)
                change.removed.append(RemovedRows(positions=found.positions, source=table))
                return
            candidates = [t for t in reader.plan(table, snapshot_id) if t.file.file_path in found.paths]
            self._rewrite(table, snapshot_id, candidates, found.keys, change)
            return
        self._rewrite(table, snapshot_id, self._candidates(table, snapshot_id, keys), keys, change)

    def _rewrite(
        self, table: Table, snapshot_id: int | None, candidates: list[FileScanTask], keys: pa.Table, change: Change
    ) -> None:
        """Replace each candidate file that holds some of ``keys`` by its other rows."""
        if snapshot_id is None or not candidates:
            return
        if deletes.merge_on_read(table) and reader.duckdb_can_read_deleting(table, candidates):
            positions, rows = deletes.locate(table, candidates, keys)  # merge-on-read: no file rewritten
            if positions.num_rows:
                change.position_deletes.append(positions)
                change.removed.append(rows)
            return
        for found in locate.rewrites(table, candidates, keys):
            change.delete_files.append(found.task.file)
            kept = _to_storage(found.kept, table)
            change.add_tables.append(kept)
            if kept.num_rows:
                change.add_hashes[len(change.add_tables) - 1] = hashes(kept.select(list(self.keys)))
            change.removed.append(RemovedRows(_to_storage(found.removed, table)))

    def _plan_rollback(self, table: Table, snapshot_id: int | None, target_id: int) -> Change:
        plan = rollback.plan(table, self.table_name, list(self.keys), snapshot_id, target_id)
        change = Change(
            kind="rollback",
            delete_files=plan.delete_files,
            add_files=plan.add_files,
            max_event_us=_max_event(table, snapshot_id),  # bounds only grow, so the current one holds
        )
        if plan.rewritten is not None:
            change.add_tables.append(_to_storage(plan.rewritten, table))
        change.rows_inserted, change.rows_updated, change.rows_deleted = plan.counts
        return change

    def _lookup(
        self,
        table: Table,
        snapshot_id: int | None,
        keys: pa.Table,
        row_hashes: np.ndarray | None = None,
        needles: np.ndarray | None = None,
    ) -> Found | None:
        """The stored rows equal to a row of ``keys`` by the key index, which answers batches
        of full (key, event time) pairs (``row_hashes``: their hashes in row order,
        ``needles`` sorted, if known); None when it cannot answer (statistics prune instead)."""
        if snapshot_id is None or keys.num_rows == 0 or keys.column_names != list(self.keys):
            return None
        return self.key_index.lookup(table, snapshot_id, keys, row_hashes, needles)

    def _candidates(self, table: Table, snapshot_id: int | None, keys: pa.Table) -> list[FileScanTask]:
        """Files whose column statistics admit any of ``keys`` (min/max pruning per key column)."""
        if snapshot_id is None or keys.num_rows == 0:
            return []
        return reader.plan(table, snapshot_id, _range_filter(keys))


def _range_filter(keys: pa.Table) -> BooleanExpression:
    """``min <= col <= max`` for each orderable key column: a superset of the keys' rows."""
    expression: BooleanExpression = reader.ALWAYS_TRUE
    for name in keys.column_names:
        column = keys.column(name)
        dtype = column.type
        if not (
            pa.types.is_integer(dtype)
            or pa.types.is_string(dtype)
            or pa.types.is_timestamp(dtype)
            or pa.types.is_date(dtype)
        ):
            continue
        bounds = pc.min_max(column)
        low, high = bounds["min"], bounds["max"]
        if not low.is_valid or not high.is_valid:
            continue
        if pa.types.is_timestamp(dtype):
            low_value: object = low.cast(pa.int64()).as_py()
            high_value: object = high.cast(pa.int64()).as_py()
        elif pa.types.is_date(dtype):
            low_value, high_value = low.as_py().isoformat(), high.as_py().isoformat()
        else:
            low_value, high_value = low.as_py(), high.as_py()
        # pyiceberg's predicates take (term, literal) at runtime; its pydantic fields say otherwise to mypy
        clause = And(GreaterThanOrEqual(name, low_value), LessThanOrEqual(name, high_value))  # type: ignore[call-arg, arg-type]
        expression = clause if isinstance(expression, type(reader.ALWAYS_TRUE)) else And(expression, clause)
    return expression


def _max_event(table: Table, snapshot_id: int | None) -> int | None:
    """The stored upper bound of event times at a snapshot (None: unknown or no data)."""
    if snapshot_id is None:
        return None
    snapshot = table.snapshot_by_id(snapshot_id)
    value = snapshot.summary[PREFIX + "max-event-time"] if snapshot is not None and snapshot.summary else None
    return int(value) if value is not None else None


def _removed(change: Change) -> RemovedRows | None:
    """The stored rows a change removed (None when it removed none)."""
    return removed_rows.concat(change.removed)


def _take(rows: pa.Table, order: pa.Array) -> pa.Table:
    """``rows.take(order)`` with one column per thread: Arrow's take is single-threaded and
    releases the GIL, and reordering a 1M-row batch is a fifth of an insert's main thread."""
    if rows.num_rows < PARALLEL_TAKE_ROWS or rows.num_columns < 2:
        return rows.take(order)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="lakebox-take") as pool:
        columns = list(pool.map(lambda column: column.take(order), rows.columns))
    return pa.Table.from_arrays(columns, schema=rows.schema)


def _to_storage(rows: pa.Table, table: Table) -> pa.Table:
    """Rows in the exact Arrow schema pyiceberg writes (large strings, field ids)."""
    full = table.schema().as_arrow()
    target = pa.schema([full.field(name) for name in rows.column_names]) if len(rows.column_names) < len(full) else full
    return rows.select(target.names).cast(target)


def _discard_prepared(change: Change) -> None:
    """Remove the key index entries prepared for a change that will not be indexed."""
    for prepared in change.prepared.values():
        try:
            prepared.discard()
        except OSError:  # best effort: a writer's next state sweeps what no state names
            log.warning("could not remove a prepared key index file", exc_info=True)
    change.prepared.clear()


def _delete_files(table: Table, paths: Sequence[str]) -> None:
    """Remove data files of a commit that did not land (best effort; orphans are swept later)."""
    for path in paths:
        try:
            table.io.delete(path)
        except Exception:  # noqa: BLE001 - cleanup must not mask the original error
            log.warning("could not delete uncommitted file %s", path, exc_info=True)
