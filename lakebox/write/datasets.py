"""Materialising and deleting a training dataset atomically (DESIGN §4, reproducibility).

A training dataset promises the same rows forever, so its creation is all or nothing and
never touches another version:

1. **reserve**: a ``pending`` catalog row whose version (max + 1) is chosen and inserted in
   one catalog transaction, owned by this process (pid, host): two creators, in one process
   or in two, never share a version;
2. **write** every split into a temporary folder next to the final one (files and folder
   fsynced);
3. **rename** the folder into place (``os.replace``: the folder is complete or absent);
4. **pin** the snapshot of every group read (an Iceberg tag, so retention keeps it);
5. **mark ready**: one catalog transaction sets the state and the lineage; the dataset
   becomes visible (to readers and search) at that instant.

Any exception undoes what was done (pins, both folders, the row) and is re-raised. A creator
that is killed leaves a ``pending`` row owned by a dead process: ``cleanup_orphans`` (run
by every create and delete of the view) claims it and undoes it the same way. Deleting a
dataset runs the sequence backwards: the row turns ``deleting`` (invisible), then pins and
files go, then the row.

This module is an engine: it takes plain values and callables, never api objects.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakebox.catalog.views import DatasetRow, ViewStore
from lakebox.errors import ConflictError, NotFoundError, StorageError
from lakebox.offline import maintenance
from lakebox.offline.table import GroupTable
from lakebox.training import materialize

log = logging.getLogger(__name__)

TableResolver = Callable[[str, int], "GroupTable | None"]
"""``(group name, group version) -> its GroupTable``, or None when the group is gone."""

_in_flight: set[int] = set()  # ids of the rows this process is working on right now
_in_flight_lock = threading.Lock()


@dataclass(frozen=True)
class ViewRef:
    """The feature view a dataset belongs to, as values."""

    id: int
    name: str
    version: int


def location(view: ViewRef, version: int) -> str:
    """The dataset's folder, relative to the box's artifacts."""
    return f"training_datasets/{view.name}_{view.version}/v{version}"


def pin_name(view: ViewRef, version: int) -> str:
    return f"td_{view.name}_{view.version}_{version}"


def create(
    views: ViewStore,
    artifacts: Path,
    tables: TableResolver,
    view: ViewRef,
    *,
    data_format: str,
    description: str,
    spec: dict[str, Any],
    snapshots: list[dict[str, Any]],
    transformations: dict[str, Any],
    splits: Iterable[tuple[str, pa.Table]],
    statistics: Callable[[pa.Table], dict[str, Any]],
    upstream: Sequence[tuple[int, str, dict[str, Any]]] = (),
) -> DatasetRow:
    """Materialise one training dataset version and return its (ready) row.

    ``splits`` yields ``(split name, final table)`` pairs and is consumed after the version is
    reserved (so transforming lazily in it is covered by the all-or-nothing guarantee);
    ``snapshots`` are ``{group, version, snapshot_id, commit_id}`` dicts; ``statistics`` turns
    a split into its statistics dict; ``upstream`` are the lineage edges into the dataset.
    """
    materialize.check_format(data_format)
    row = _reserve(views, artifacts, tables, view, data_format, description, spec, snapshots, transformations)
    try:
        folder = artifacts / row.location
        tmp = _tmp_folder(folder)
        try:
            written = _write_splits(tmp, splits, data_format)
            if not written:
                raise StorageError("The training dataset has no splits to write.")
            if folder.exists():  # a leftover no catalog row owns: the version is ours now
                shutil.rmtree(folder)
            os.replace(tmp, folder)
            _fsync_dir(folder.parent)
            first = next(iter(written.values()))
            columns = {"schema": materialize.schema_to_json(first.schema), "splits": list(written)}
            stats = {split: statistics(table) for split, table in written.items()}
            counts = {split: table.num_rows for split, table in written.items()}
            _pin_all(tables, snapshots, pin_name(view, row.version))
            return views.complete_dataset(
                row.id, columns=columns, statistics=stats, row_counts=counts, upstream=upstream
            )
        except BaseException:
            _undo(views, artifacts, tables, view, row)
            raise
    finally:
        with _in_flight_lock:
            _in_flight.discard(row.id)


def record(
    views: ViewStore,
    artifacts: Path,
    tables: TableResolver,
    view: ViewRef,
    *,
    data_format: str,
    description: str,
    spec: dict[str, Any],
    snapshots: list[dict[str, Any]],
    transformations: dict[str, Any],
    columns: dict[str, Any],
    statistics: dict[str, Any],
    row_counts: dict[str, int],
    upstream: Sequence[tuple[int, str, dict[str, Any]]] = (),
) -> DatasetRow:
    """Record a training dataset that has no files (hsfs' in-memory splits): steps 1 and 5
    only, with the row marked in flight meanwhile, so that a ``cleanup_orphans`` of another
    thread never takes it for an orphan; a failure removes the row."""
    row = _reserve(views, artifacts, tables, view, data_format, description, spec, snapshots, transformations)
    try:
        return views.complete_dataset(
            row.id, columns=columns, statistics=statistics, row_counts=row_counts, upstream=upstream
        )
    except BaseException:
        views.discard_dataset(row.id)
        raise
    finally:
        with _in_flight_lock:
            _in_flight.discard(row.id)


def drop(views: ViewStore, artifacts: Path, tables: TableResolver, view: ViewRef, dataset: DatasetRow) -> bool:
    """Delete a ready dataset: hidden first (state ``deleting``), then its pins and files,
    then its row. False if it was not ready (already gone, or being deleted by another caller)."""
    claimed = views.begin_delete(dataset.id)
    if claimed is None:
        return False
    with _in_flight_lock:
        _in_flight.add(claimed.id)
    try:
        _undo(views, artifacts, tables, view, claimed)
    finally:
        with _in_flight_lock:
            _in_flight.discard(claimed.id)
    return True


def cleanup_orphans(views: ViewStore, artifacts: Path, tables: TableResolver, view: ViewRef) -> int:
    """Undo the unfinished datasets of ``view`` whose owner died (or, in this process, gave
    up without cleaning): their pins, files and rows. Returns how many were undone."""
    with _in_flight_lock:
        busy = set(_in_flight)
    undone = 0
    for orphan in views.orphaned_datasets(view.id, busy):
        if not views.claim_orphan(orphan):
            continue  # another cleaner took it
        log.info("undoing training dataset %s v%d left unfinished by pid %s", view.name, orphan.version, orphan.owner_pid)
        _undo(views, artifacts, tables, view, orphan)
        undone += 1
    return undone


# -- internals --------------------------------------------------------------------------------
def _reserve(
    views: ViewStore,
    artifacts: Path,
    tables: TableResolver,
    view: ViewRef,
    data_format: str,
    description: str,
    spec: dict[str, Any],
    snapshots: list[dict[str, Any]],
    transformations: dict[str, Any],
) -> DatasetRow:
    """Step 1: undo orphans, then reserve the next version as a ``pending`` row this process
    marks in flight (the caller discards the mark when it is done)."""
    cleanup_orphans(views, artifacts, tables, view)
    row = views.reserve_dataset(
        view.id,
        location_of=lambda version: location(view, version),
        data_format=data_format,
        description=description,
        spec=spec,
        snapshots=snapshots,
        transformations=transformations,
    )
    with _in_flight_lock:
        _in_flight.add(row.id)
    return row


def _tmp_folder(folder: Path) -> Path:
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():  # left by a killed creator of this same version, which is ours now
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _write_splits(tmp: Path, splits: Iterable[tuple[str, pa.Table]], data_format: str) -> dict[str, pa.Table]:
    written: dict[str, pa.Table] = {}
    for split, table in splits:
        path = tmp / materialize.file_name(split, data_format)
        materialize.write(table, path, data_format)
        _fsync_file(path)
        written[split] = table
    _fsync_dir(tmp)
    return written


def _pin_all(tables: TableResolver, snapshots: Sequence[dict[str, Any]], name: str) -> None:
    for item in snapshots:
        if item.get("snapshot_id") is None or item.get("project"):
            continue  # no data, or another project's group (read-only here: its owner's retention applies)
        table = tables(item["group"], item["version"])
        if table is None:
            raise ConflictError(
                f"Feature group {item['group']} v{item['version']} was deleted while the training dataset "
                "was being written; nothing was kept."
            )
        _pin(table, int(item["snapshot_id"]), name, item)


def _pin(table: GroupTable, snapshot_id: int, name: str, item: dict[str, Any]) -> None:
    with table.lock:
        iceberg = table.load()
        if iceberg.snapshot_by_id(snapshot_id) is None:
            raise ConflictError(
                f"Commit {item.get('commit_id')} of feature group {item['group']} v{item['version']} expired "
                "while the training dataset was being written (retention); nothing was kept. Retry."
            )
        existing = maintenance.pins(iceberg).get(name)
        if existing is not None and existing != snapshot_id:
            maintenance.unpin(table, name)  # a stale pin of this name that no dataset owns
        maintenance.pin(table, snapshot_id, name)


def _undo(views: ViewStore, artifacts: Path, tables: TableResolver, view: ViewRef, row: DatasetRow) -> None:
    """Remove a not-ready row's pins, then its folders, then the row: each step is
    idempotent, so an undo that is itself interrupted is finished by the next cleaner."""
    name = pin_name(view, row.version)
    for item in row.snapshots:
        if item.get("project"):
            continue  # another project's group: never pinned from here
        try:
            table = tables(item["group"], item["version"])
        except Exception:  # noqa: BLE001 - a group that cannot be resolved holds no pin to remove
            log.warning("cannot resolve group %s v%s to unpin %s", item.get("group"), item.get("version"), name)
            continue
        if table is None:
            continue
        try:
            maintenance.unpin(table, name)
        except NotFoundError:  # the group's table was dropped: its pins went with it
            continue
    folder = artifacts / row.location
    shutil.rmtree(folder.with_name(f".{folder.name}.tmp"), ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        raise StorageError(f"Could not remove the training dataset folder {folder}; remove it by hand.")
    views.discard_dataset(row.id)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory
        pass
    finally:
        os.close(fd)
