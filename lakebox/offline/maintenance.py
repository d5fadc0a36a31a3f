"""Compaction, snapshot retention, file cleanup and pins for one group's Iceberg table.

Maintenance never blocks writers for long: the slow parts (reading the small files and
writing the compacted ones, reading every manifest to learn which files are referenced) run
WITHOUT the group's write lock, against the snapshot current when they started. The lock is
taken only for the short final step, which re-checks what was planned against the table as
it is now: a compaction whose input files were replaced meanwhile is thrown away and planned
again (bounded), and a cleanup adds the references of commits that landed meanwhile before
it deletes anything. A writer therefore waits seconds, not minutes.

pyiceberg's ``expire_snapshots`` only edits metadata and deletes no files, and pyiceberg has
no orphan-file removal: lakebox owns both. Snapshots that carry an Iceberg tag (a training
dataset's pin) are never expired.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table

from lakebox.catalog.groups import CommitRow
from lakebox.errors import ConflictError
from lakebox.offline import deletes, reader
from lakebox.offline.table import PREFIX, Change, GroupTable, commit_from_snapshot

log = logging.getLogger(__name__)

PIN_PREFIX = "lakebox-pin-"
COMPACT_ATTEMPTS = 3
Progress = Callable[[str], None]


@dataclass
class MaintenanceReport:
    expired_commits: list[int] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"expired_commits": self.expired_commits, "deleted_files": len(self.deleted_files)}


def _say(group: GroupTable, progress: Progress | None, stage: str) -> None:
    log.debug("%s: %s", group.table_name, stage)
    if progress is not None:
        progress(stage)


# -- compaction -----------------------------------------------------------------------------
@dataclass
class _CompactPlan:
    snapshot_id: int
    schema_id: int
    inputs: list[DataFile]
    outputs: list[DataFile]


class _Stale(Exception):
    """The table changed under a compaction in a way that invalidates its files."""


def compact(
    group: GroupTable,
    target_rows: int = 5_000_000,
    on_commit: Callable[[CommitRow], None] | None = None,
    progress: Progress | None = None,
) -> CommitRow | None:
    """Rewrite the current files into few large sorted ones (same rows; a 'compact' commit).

    Reads and writes without the write lock; takes it only to commit, and calls
    ``on_commit(commit)`` while still holding it (so a caller can mirror the commit in order).
    Returns None when there is nothing to compact. Raises ``ConflictError`` when concurrent
    writers replaced its input files ``COMPACT_ATTEMPTS`` times in a row.
    """
    for attempt in range(1, COMPACT_ATTEMPTS + 1):
        plan = _plan_compact(group, target_rows, progress)
        if plan is None:
            return None
        _say(group, progress, "compact: committing")
        try:
            with group.lock("compact: committing"):
                commit = group.commit(functools.partial(_recheck, group, plan))
                if commit is not None and on_commit is not None:
                    on_commit(commit)
                return commit
        except _Stale as stale:
            log.info("%s: compaction attempt %d is stale (%s); planning again", group.table_name, attempt, stale)
            _delete(group, [f.file_path for f in plan.outputs])
        except BaseException:
            _delete(group, [f.file_path for f in plan.outputs])
            raise
    raise ConflictError(
        f"Compacting {group.table_name} lost to concurrent writers {COMPACT_ATTEMPTS} times in a row "
        "(they replaced the files being compacted). Run it again when writes are quieter."
    )


def _plan_compact(group: GroupTable, target_rows: int, progress: Progress | None) -> _CompactPlan | None:
    """Read the current snapshot's files and write them as sorted large files (no lock)."""
    table = group.load()
    current = table.current_snapshot()
    if current is None:
        return None
    tasks = reader.plan(table, current.snapshot_id)
    # merge-on-read deletes are folded away: their data files are rewritten without the
    # deleted rows and every live delete file leaves the snapshot with them
    removed_deletes = deletes.snapshot_delete_files(table, current.snapshot_id)
    if not tasks or (len(tasks) <= 1 and not removed_deletes):
        return None
    _say(group, progress, "compact: reading files")
    full = table.schema().as_arrow()
    rows = reader.read(table, current.snapshot_id, full, tasks=tasks)  # deletes applied
    rows = rows.sort_by([(k, "ascending") for k in group.keys])
    rows = rows.select(full.names).cast(full)
    chunks = [rows.slice(i, target_rows) for i in range(0, rows.num_rows, target_rows)] or [rows]
    _say(group, progress, "compact: writing files")
    outputs: list[DataFile] = []
    counter = itertools.count(0)
    write_uuid = uuid.uuid4()
    try:
        for chunk in chunks:
            if chunk.num_rows == 0:
                continue
            outputs.extend(
                _dataframe_to_data_files(
                    table_metadata=table.metadata, df=chunk, io=table.io, write_uuid=write_uuid, counter=counter
                )
            )
    except BaseException:
        _delete(group, [f.file_path for f in outputs])
        raise
    return _CompactPlan(
        current.snapshot_id, table.schema().schema_id, [t.file for t in tasks] + removed_deletes, outputs
    )


def _recheck(group: GroupTable, plan: _CompactPlan, table: Table, snapshot_id: int | None) -> Change:
    """Under the lock: the compaction's commit if its plan still holds, else ``_Stale``."""
    if snapshot_id is None:
        raise _Stale("the table has no snapshot any more")
    if table.schema().schema_id != plan.schema_id:
        raise _Stale("the schema changed")
    if snapshot_id != plan.snapshot_id and not _only_appends_since(table, plan.snapshot_id, snapshot_id):
        live = {t.file.file_path for t in reader.plan(table, snapshot_id)}
        if any(f.file_path not in live for f in plan.inputs if f.content == DataFileContent.DATA):
            raise _Stale("a concurrent commit replaced some of its input files")
        planned = {f.file_path for f in plan.inputs}
        if any(f.file_path not in planned for f in deletes.snapshot_delete_files(table, snapshot_id)):
            raise _Stale("a concurrent commit deleted rows of its input files")
    for output in plan.outputs:  # a cleanup running meanwhile must not have taken them
        if not os.path.exists(reader.local_path(output.file_path, table)):
            raise _Stale(f"its file {output.file_path} disappeared")
    return Change(
        kind="compact", delete_files=plan.inputs, add_files=plan.outputs, max_event_us=_max_event(table, snapshot_id)
    )


def _only_appends_since(table: Table, ancestor_id: int, snapshot_id: int) -> bool:
    """True when every snapshot after ``ancestor_id`` up to ``snapshot_id`` only added files."""
    snapshot = table.snapshot_by_id(snapshot_id)
    while snapshot is not None and snapshot.snapshot_id != ancestor_id:
        operation = snapshot.summary.operation.value if snapshot.summary is not None else None
        if operation != "append":
            return False
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return snapshot is not None


def _max_event(table: Table, snapshot_id: int) -> int | None:
    snapshot = table.snapshot_by_id(snapshot_id)
    value = snapshot.summary[PREFIX + "max-event-time"] if snapshot is not None and snapshot.summary else None
    return int(value) if value is not None else None


def _delete(group: GroupTable, paths: list[str]) -> None:
    if not paths:
        return
    try:
        io = group.load().io
    except Exception:  # noqa: BLE001 - cleanup is best effort; orphans are swept by vacuum
        return
    for path in paths:
        try:
            io.delete(path)
        except Exception:  # noqa: BLE001
            log.warning("could not delete uncommitted file %s", path, exc_info=True)


# -- retention ------------------------------------------------------------------------------
def expire(group: GroupTable, older_than_ms: int | None, keep_last: int) -> list[int]:
    """Expire the snapshots of commits older than ``older_than_ms`` beyond the newest
    ``keep_last`` commits (never the current one, never a pinned one). Returns commit ids.

    Metadata only (one small Iceberg commit): it runs under the lock, which it holds briefly.
    """
    with group.lock("expire: committing"):
        table = group.load()
        current = table.current_snapshot()
        protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
        snapshots = sorted(table.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
        keep = {s.snapshot_id for s in snapshots[-max(keep_last, 1) :]}
        victims = [
            s
            for s in snapshots
            if s.snapshot_id not in keep
            and s.snapshot_id not in protected
            and (current is None or s.snapshot_id != current.snapshot_id)
            and (older_than_ms is None or s.timestamp_ms < older_than_ms)
        ]
        if not victims:
            return []
        table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in victims]).commit()
    commits = [c.commit_id for c in (commit_from_snapshot(s) for s in victims) if c is not None]
    log.info("%s: expired commits %s", group.table_name, commits)
    return commits


# -- file cleanup ---------------------------------------------------------------------------
class References:
    """The files a table's metadata reaches; reads each manifest once, and can be extended
    with the snapshots of a newer version of the same table cheaply."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self._manifests: set[str] = set()
        self._snapshots: set[int] = set()

    def add(self, table: Table) -> References:
        paths = self.paths
        paths.add(reader.local_path(table.metadata_location, table))
        paths.update(reader.local_path(entry.metadata_file, table) for entry in table.metadata.metadata_log)
        for snapshot in table.metadata.snapshots:
            if snapshot.snapshot_id in self._snapshots:
                continue
            self._snapshots.add(snapshot.snapshot_id)
            if snapshot.manifest_list:
                paths.add(reader.local_path(snapshot.manifest_list, table))
            for manifest in snapshot.manifests(table.io):
                if manifest.manifest_path in self._manifests:
                    continue  # manifests are immutable and shared by many snapshots
                self._manifests.add(manifest.manifest_path)
                paths.add(reader.local_path(manifest.manifest_path, table))
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    paths.add(reader.local_path(entry.data_file.file_path, table))
        for stats in table.metadata.statistics:
            paths.add(reader.local_path(stats.statistics_path, table))
        return self


def referenced_files(table: Table) -> set[str]:
    """Every file the table's current metadata can still reach (local paths)."""
    return References().add(table).paths


def unreferenced_files(table: Table, references: set[str], older_than: float) -> list[Path]:
    """Files under the table's location that ``references`` lacks, last modified before ``older_than``."""
    location = Path(reader.local_path(table.metadata.location, table))
    found = []
    for path in location.rglob("*"):
        try:
            if path.is_file() and str(path) not in references and path.stat().st_mtime < older_than:
                found.append(path)
        except OSError:
            continue  # removed while we looked
    return found


def vacuum(group: GroupTable, grace_s: float = 3600.0, progress: Progress | None = None) -> list[str]:
    """Delete files under the table's location that no snapshot references: files of expired
    snapshots and orphans of writers killed mid-commit.

    Files younger than ``grace_s`` (or than this call) are kept, in case a writer is between
    writing them and committing. The references are read without the lock; under the lock,
    commits that landed meanwhile are added before anything is deleted.
    """
    started = time.time()
    _say(group, progress, "vacuum: reading references")
    table = group.load()
    references = References().add(table)
    candidates = unreferenced_files(table, references.paths, min(started, started - grace_s))
    if not candidates:
        return []
    _say(group, progress, "vacuum: deleting files")
    deleted = []
    with group.lock("vacuum: deleting files"):
        now = group.load()
        if now.metadata_location != table.metadata_location:
            references.add(now)
        for path in candidates:
            if str(path) in references.paths:
                continue
            path.unlink(missing_ok=True)
            deleted.append(str(path))
    if deleted:
        log.info("%s: deleted %d unreferenced files", group.table_name, len(deleted))
    return deleted


# -- pins -----------------------------------------------------------------------------------
def pin(group: GroupTable, snapshot_id: int, name: str) -> str:
    """Tag a snapshot so retention never expires it (training datasets pin what they read)."""
    tag = PIN_PREFIX + name
    with group.lock("pin"):
        table = group.load()
        if tag in table.metadata.refs:
            return tag
        table.manage_snapshots().create_tag(snapshot_id, tag).commit()
    return tag


def unpin(group: GroupTable, name: str) -> None:
    tag = PIN_PREFIX + name
    with group.lock("unpin"):
        table = group.load()
        if tag in table.metadata.refs:
            table.manage_snapshots().remove_tag(tag).commit()


def pins(table: Table) -> dict[str, int]:
    return {
        name[len(PIN_PREFIX) :]: ref.snapshot_id
        for name, ref in table.metadata.refs.items()
        if name.startswith(PIN_PREFIX)
    }
