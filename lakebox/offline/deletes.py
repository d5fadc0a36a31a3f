"""Merge-on-read updates: Iceberg v2 position-delete files and the snapshot that commits them.

Why: a copy-on-write update rewrites every data file holding one of the batch's keys; with
random keys a 1% update touches every file, so an update cost O(group). Merge-on-read writes
the batch's rows as new data files plus ONE position-delete file per commit listing
``(file_path, pos)`` of the stored rows the batch replaces (a delete by key writes only the
delete file); readers skip those rows
(pyiceberg's scan applies them, lakebox's DuckDB reads anti-join them: ``reader.py``).
Compaction folds the deletes away (``maintenance.py``).

pyiceberg 0.12 reads position deletes but cannot write them: its manifest writer writes data
manifests only. ``RowDelta`` is a snapshot producer that writes the added delete files into a
DELETES manifest (``ManifestContent.DELETES``) and can remove data and delete files in the
same snapshot, rewriting data and delete manifests each with their own content. Added entries
inherit the new snapshot's sequence number, so a delete file applies to the data files that
existed before it (data sequence number <= its own), as the Iceberg spec says.

The mode is chosen per table by the table property ``lakebox.update-mode``
(``merge-on-read`` or ``copy-on-write``) or, for development and benchmarks, by the
environment variable ``LAKEBOX_UPDATE_MODE``; the default is merge-on-read.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot.expressions as exp
from pyiceberg.conversions import to_bytes
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriter,
    ManifestWriterV2,
)
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update.snapshot import _SnapshotProducer
from pyiceberg.typedef import Record
from pyiceberg.types import LongType, StringType

from lakebox.errors import StorageError
from lakebox.offline import reader
from lakebox.offline.removed import RemovedRows

MODE_PROPERTY = "lakebox.update-mode"
MODE_ENV = "LAKEBOX_UPDATE_MODE"
MERGE_ON_READ = "merge-on-read"
COPY_ON_WRITE = "copy-on-write"
DEFAULT_MODE = MERGE_ON_READ  # without the table property or the environment variable

# A commit whose snapshot holds this many deleted rows (and this share of all rows), or this
# many delete files, is followed by a compaction that folds them away (write/coordinator.py):
# reads skip deleted rows at a cost that grows with them, so they must not pile up forever.
FOLD_MIN_ROWS = 100_000
FOLD_SHARE = 0.10
FOLD_FILES = 64
MERGE_DELETE_MANIFESTS = 16  # as many as lakebox lets data manifests accumulate (warehouse.TABLE_PROPERTIES)
FILE_PATH_ID = 2147483546  # Iceberg's reserved field ids of a position-delete file
POS_ID = 2147483545
DELETE_SCHEMA = pa.schema(
    [
        pa.field("file_path", pa.string(), nullable=False, metadata={b"PARQUET:field_id": str(FILE_PATH_ID).encode()}),
        pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": str(POS_ID).encode()}),
    ]
)


def merge_on_read(table: Table) -> bool:
    """Whether updates of ``table`` write position deletes instead of rewriting files."""
    mode = table.metadata.properties.get(MODE_PROPERTY) or os.environ.get(MODE_ENV) or DEFAULT_MODE
    if mode not in (MERGE_ON_READ, COPY_ON_WRITE):
        raise StorageError(
            f"{MODE_PROPERTY} = {mode!r} on {table.name()} (or ${MODE_ENV}) is not an update mode: "
            f"use {MERGE_ON_READ!r} or {COPY_ON_WRITE!r}."
        )
    return mode == MERGE_ON_READ and table.metadata.format_version == 2


# -- locating the rows an update replaces -------------------------------------------------
def locate(table: Table, tasks: Sequence[FileScanTask], keys: pa.Table) -> tuple[pa.Table, RemovedRows]:
    """``(positions, removed)`` of the live stored rows among ``tasks`` matching a row of ``keys``.

    ``positions`` has the delete-file schema (recorded ``file_path``, ``pos``), sorted;
    ``removed`` gives the full stored rows when asked (``removed.py``: read later, by the
    statistics step). One DuckDB pass reads the key columns of the candidate files with their
    file names and row numbers, semi-joins the keys and anti-joins the rows already deleted.
    Tasks DuckDB cannot read exactly are refused (callers check ``reader.duckdb_can_read_deleting``
    first).
    """
    if not tasks or keys.num_rows == 0:
        return DELETE_SCHEMA.empty_table(), RemovedRows(table.schema().as_arrow().empty_table())
    if not reader.duckdb_can_read_deleting(table, tasks):
        raise StorageError(f"Internal error: {table.name()} cannot be located with position deletes.")
    recorded = {reader.local_path(t.file.file_path, table): t.file.file_path for t in tasks}
    con = reader.cursor()
    try:
        source = reader.source_with_deletes(con, table, tasks, keep_position=True, columns=keys.column_names)
        on = exp.and_(
            *[
                exp.EQ(this=exp.column(k, "s", quoted=True), expression=exp.column(k, "b", quoted=True))
                for k in keys.column_names
            ]
        )
        at = (exp.column(reader.FILE, "s", quoted=True), exp.column(reader.ROW, "s", quoted=True))
        query = (
            exp.select(*at)
            .from_(exp.alias_(source, "s", table=True))
            .join(exp.alias_(exp.to_table("lakebox_keys"), "b", table=True), on=on, join_type="SEMI")
            .order_by(*at)
        )
        con.register("lakebox_keys", keys)
        found = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
    except duckdb.Error as e:
        raise StorageError(f"Locating updated keys in {table.name()} failed in DuckDB: {e}") from e
    finally:
        con.close()
    files = [recorded[str(p)] for p in found.column(reader.FILE).to_pylist()]
    positions = pa.table(
        {"file_path": pa.array(files, pa.string()), "pos": found.column(reader.ROW).cast(pa.int64())},
        schema=DELETE_SCHEMA,
    )
    return positions, RemovedRows(positions=positions, source=table)


# -- writing a position-delete file --------------------------------------------------------
def write_file(table: Table, metadata: TableMetadata, positions: pa.Table, commit_uuid: uuid.UUID) -> DataFile:
    """Write ``positions`` (recorded file_path, pos; sorted) as one Parquet position-delete file."""
    if positions.num_rows == 0:
        raise StorageError("Internal error: an empty position-delete file.")
    location = table.location_provider().new_data_location(data_file_name=f"{commit_uuid}-deletes.parquet")
    return _written(table, positions, location, metadata.default_spec_id)


def _written(table: Table, positions: pa.Table, location: str, spec_id: int) -> DataFile:
    positions = positions.cast(DELETE_SCHEMA)
    output = table.io.new_output(location)
    with output.create(overwrite=True) as stream:
        # one row group, file_path dictionary-encoded (pyiceberg reads its dictionary)
        pq.write_table(positions, stream, compression="zstd", row_group_size=max(positions.num_rows, 1))
    paths = positions.column("file_path").to_pylist()
    pos = positions.column("pos")
    return DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=location,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=positions.num_rows,
        file_size_in_bytes=len(output),
        column_sizes={},
        value_counts={FILE_PATH_ID: positions.num_rows, POS_ID: positions.num_rows},
        null_value_counts={FILE_PATH_ID: 0, POS_ID: 0},
        nan_value_counts={},
        # exact (untruncated) bounds: readers prune the delete file per data file with them
        lower_bounds={
            FILE_PATH_ID: to_bytes(StringType(), min(paths)),
            POS_ID: to_bytes(LongType(), int(pc.min(pos).as_py())),
        },
        upper_bounds={
            FILE_PATH_ID: to_bytes(StringType(), max(paths)),
            POS_ID: to_bytes(LongType(), int(pc.max(pos).as_py())),
        },
        split_offsets=None,
        equality_ids=None,
        sort_order_id=None,
        spec_id=spec_id,
        key_metadata=None,
    )


# -- committing data and delete files in one snapshot --------------------------------------
class _DeletesManifestWriter(ManifestWriterV2):
    """pyiceberg's v2 manifest writer, for a manifest of delete files."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class RowDelta(_SnapshotProducer["RowDelta"]):
    """One snapshot that adds data files and position-delete files and removes either kind.

    ``append_data_file`` takes both data and delete files (by their ``content``);
    ``delete_data_file`` removes either kind (each must be live in the parent snapshot).
    """

    def __init__(
        self, transaction: object, io: object, snapshot_properties: dict[str, str], operation: Operation
    ) -> None:
        super().__init__(operation, transaction, io, snapshot_properties=snapshot_properties)  # type: ignore[arg-type]

    def _deleted_entries(self) -> list[ManifestEntry]:
        return []  # written by _manifests itself, split by content

    def _existing_manifests(self) -> list[ManifestFile]:
        return []

    def _writer(self, content: ManifestContent) -> ManifestWriter:
        spec = self._transaction.table_metadata.spec()
        if content == ManifestContent.DATA:
            return self.new_manifest_writer(spec)
        return _DeletesManifestWriter(
            spec, self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression
        )

    def _manifests(self) -> list[ManifestFile]:
        removing = {f.file_path for f in self._deleted_data_files}
        found: set[str] = set()
        kept: list[ManifestFile] = []
        removed: dict[ManifestContent, list[ManifestEntry]] = defaultdict(list)
        parent = (
            self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id)
            if self._parent_snapshot_id is not None
            else None
        )
        for manifest in parent.manifests(self._io) if parent is not None else []:
            if not removing or not (manifest.has_added_files() or manifest.has_existing_files()):
                if manifest.has_added_files() or manifest.has_existing_files():
                    kept.append(manifest)
                continue
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            staying = [e for e in entries if e.data_file.file_path not in removing]
            if len(staying) == len(entries):
                kept.append(manifest)
                continue
            for entry in entries:
                if entry.data_file.file_path in removing:
                    found.add(entry.data_file.file_path)
                    removed[manifest.content].append(entry)
            if staying:
                with self._writer(manifest.content) as writer:
                    for entry in staying:
                        writer.existing(entry)
                kept.append(writer.to_manifest_file())
        missing = removing - found
        if missing:
            raise StorageError(f"Internal error: files to remove are not live: {sorted(missing)[:3]}")
        written: list[ManifestFile] = []
        for content, wanted in (
            (ManifestContent.DATA, DataFileContent.DATA),
            (ManifestContent.DELETES, DataFileContent.POSITION_DELETES),
        ):
            added = [f for f in self._added_data_files if f.content == wanted]
            if added:
                with self._writer(content) as writer:
                    for data_file in added:
                        writer.add(
                            ManifestEntry.from_args(
                                status=ManifestEntryStatus.ADDED,
                                snapshot_id=self._snapshot_id,
                                sequence_number=None,
                                file_sequence_number=None,
                                data_file=data_file,
                            )
                        )
                written.append(writer.to_manifest_file())
            if removed[content]:
                with self._writer(content) as writer:
                    for entry in removed[content]:
                        writer.delete(entry)
                written.append(writer.to_manifest_file())
        return written + self._merged_deletes(kept)

    def _merged_deletes(self, manifests: list[ManifestFile]) -> list[ManifestFile]:
        """Once ``MERGE_DELETE_MANIFESTS`` delete manifests accumulate (one per merge-on-read
        commit), rewrite them as one (entries keep their sequence numbers), so planning a
        scan reads a bounded number of manifests until a compaction drops the deletes."""
        found = [m for m in manifests if m.content == ManifestContent.DELETES]
        if len(found) < MERGE_DELETE_MANIFESTS:
            return manifests
        with self._writer(ManifestContent.DELETES) as writer:
            for manifest in found:
                for entry in manifest.fetch_manifest_entry(self._io, discard_deleted=True):
                    writer.existing(entry)
        return [m for m in manifests if m.content != ManifestContent.DELETES] + [writer.to_manifest_file()]


def commit_operation(adds_data: bool, removes: bool) -> Operation:
    """The Iceberg operation of a row delta: 'overwrite' when it replaces rows, else 'delete'."""
    return Operation.OVERWRITE if adds_data or removes else Operation.DELETE


def live_delete_files(tasks: Sequence[FileScanTask]) -> list[DataFile]:
    """The distinct delete files applying to any of ``tasks``."""
    seen: dict[str, DataFile] = {}
    for task in tasks:
        for delete_file in task.delete_files:
            seen.setdefault(delete_file.file_path, delete_file)
    return list(seen.values())


def snapshot_delete_files(table: Table, snapshot_id: int | None) -> list[DataFile]:
    """Every live delete file of a snapshot (also those no data file needs any more)."""
    if snapshot_id is None:
        return []
    snapshot = table.snapshot_by_id(snapshot_id)
    if snapshot is None:
        return []
    found: list[DataFile] = []
    try:
        for manifest in snapshot.manifests(table.io):
            if manifest.content != ManifestContent.DELETES:
                continue
            found.extend(e.data_file for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
    except OSError as e:
        raise StorageError(f"Cannot read the delete manifests of {table.name()}: {e}") from e
    return found


def rollback_files(
    current: dict[str, FileScanTask], target: dict[str, FileScanTask]
) -> tuple[list[FileScanTask], list[FileScanTask], list[FileScanTask]]:
    """What a rollback from ``current`` to ``target`` (data file path -> task) does to files:
    ``(remove, re_add, rewrite)``.

    A file live in both with the same delete files is untouched. A target file without
    deletes is re-added as it is: re-added, it gets the new snapshot's sequence number, so no
    older delete file applies to it any more. A target file with deletes is rewritten (its
    rows with the deletes applied, as new files). Delete files are never removed: one whose
    data files are gone or re-added deletes nothing (compaction drops it).
    """

    def state(task: FileScanTask) -> frozenset[str]:
        return frozenset(d.file_path for d in task.delete_files)

    def changed(path: str, task: FileScanTask, other: dict[str, FileScanTask]) -> bool:
        return path not in other or state(other[path]) != state(task)

    remove = [task for path, task in current.items() if changed(path, task, target)]
    moved = [task for path, task in target.items() if changed(path, task, current)]
    return remove, [t for t in moved if not t.delete_files], [t for t in moved if t.delete_files]


def relocated_file(table: Table, delete_file: DataFile, moved: Callable[[str], str], location: str) -> DataFile:
    """A copy of a position-delete file at ``location`` whose ``file_path`` column names the
    data files where ``moved`` puts them (a relocated box: ``ops/relocate.py``); the delete
    file names data files by their recorded paths, so it must move with them."""
    with table.io.new_input(delete_file.file_path).open() as stream:
        positions = pq.read_table(stream, columns=["file_path", "pos"])
    paths = [moved(p) for p in positions.column("file_path").to_pylist()]
    positions = pa.table({"file_path": pa.array(paths, pa.string()), "pos": positions.column("pos").cast(pa.int64())})
    return _written(table, positions, location, delete_file.spec_id)


def should_fold(table: Table) -> bool:
    """Whether the current snapshot's deletes have piled up enough to compact them away
    (``FOLD_*``), from the snapshot summary's running totals (no manifest is read)."""
    snapshot = table.current_snapshot()
    summary = snapshot.summary if snapshot is not None else None
    if summary is None:
        return False

    def total(name: str) -> int:
        value = summary[name]
        return int(value) if value is not None else 0

    deleted, files = total("total-position-deletes"), total("total-delete-files")
    rows = total("total-records")
    return files >= FOLD_FILES or (deleted >= FOLD_MIN_ROWS and deleted >= FOLD_SHARE * max(rows - deleted, 1))
