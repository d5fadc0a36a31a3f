"""Snapshot retention, file cleanup and pins for one group's Iceberg table.

pyiceberg's ``expire_snapshots`` only edits metadata and deletes no files, and pyiceberg has
no orphan-file removal: lakebox owns both. Every operation runs under the group's write lock,
so no lakebox writer is mid-commit while files are judged unreferenced. Snapshots that carry
an Iceberg tag (a training dataset's pin) are never expired.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyiceberg.table import Table

from lakebox.offline import reader
from lakebox.offline.table import GroupTable, commit_from_snapshot

log = logging.getLogger(__name__)

PIN_PREFIX = "lakebox-pin-"


@dataclass
class MaintenanceReport:
    expired_commits: list[int] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"expired_commits": self.expired_commits, "deleted_files": len(self.deleted_files)}


def expire(group: GroupTable, older_than_ms: int | None, keep_last: int) -> list[int]:
    """Expire the snapshots of commits older than ``older_than_ms`` beyond the newest
    ``keep_last`` commits (never the current one, never a pinned one). Returns commit ids."""
    with group.lock:
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


def referenced_files(table: Table) -> set[str]:
    """Every file the table's current metadata can still reach (local paths)."""
    paths = {reader.local_path(table.metadata_location, table)}
    paths.update(reader.local_path(entry.metadata_file, table) for entry in table.metadata.metadata_log)
    for snapshot in table.metadata.snapshots:
        if snapshot.manifest_list:
            paths.add(reader.local_path(snapshot.manifest_list, table))
        for manifest in snapshot.manifests(table.io):
            paths.add(reader.local_path(manifest.manifest_path, table))
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                paths.add(reader.local_path(entry.data_file.file_path, table))
    for stats in table.metadata.statistics:
        paths.add(reader.local_path(stats.statistics_path, table))
    return paths


def vacuum(group: GroupTable, grace_s: float = 3600.0) -> list[str]:
    """Delete files under the table's location that no snapshot references: files of expired
    snapshots and orphans of writers killed mid-commit. Files younger than ``grace_s`` are
    kept, in case a non-lakebox writer (which takes no lakebox lock) is mid-commit."""
    with group.lock:
        table = group.load()
        location = Path(reader.local_path(table.metadata.location, table))
        keep = referenced_files(table)
        now = time.time()
        deleted = []
        for path in location.rglob("*"):
            if not path.is_file() or str(path) in keep:
                continue
            if now - path.stat().st_mtime < grace_s:
                continue
            path.unlink(missing_ok=True)
            deleted.append(str(path))
        if deleted:
            log.info("%s: deleted %d unreferenced files", group.table_name, len(deleted))
        return deleted


def pin(group: GroupTable, snapshot_id: int, name: str) -> str:
    """Tag a snapshot so retention never expires it (training datasets pin what they read)."""
    tag = PIN_PREFIX + name
    with group.lock:
        table = group.load()
        if tag in table.metadata.refs:
            return tag
        table.manage_snapshots().create_tag(snapshot_id, tag).commit()
    return tag


def unpin(group: GroupTable, name: str) -> None:
    tag = PIN_PREFIX + name
    with group.lock:
        table = group.load()
        if tag in table.metadata.refs:
            table.manage_snapshots().remove_tag(tag).commit()


def pins(table: Table) -> dict[str, int]:
    return {
        name[len(PIN_PREFIX) :]: ref.snapshot_id
        for name, ref in table.metadata.refs.items()
        if name.startswith(PIN_PREFIX)
    }
