"""A consistent copy of a live box, taken without stopping its writers.

Order matters, because each store may only be *behind* the ones copied after it:

1. ``lakebox.toml`` (settings, box id, warehouse origin);
2. ``catalog.db`` with SQLite's online backup API (a transactionally consistent copy);
3. the online store with LMDB's own copy (one read transaction; ``compact=True``). It is
   derived data: copied before the Iceberg tables, its watermarks are never ahead of them,
   and a box that opens the backup replays what it lacks;
4. each Iceberg table: its current metadata.json is read first, then every manifest list,
   manifest and data file it references (files are immutable: once referenced, their
   content never changes). If cleanup deletes a file meanwhile, the table is copied again
   from its then-current metadata;
5. ``warehouse/iceberg_catalog.db`` with the online backup API, then pointed at exactly the
   metadata files that were copied;
6. ``artifacts/`` (training datasets and models: written once, then only read).

Iceberg commits newer than the copied ``catalog.db`` are in the backup's tables; the commit
log is re-synced from Iceberg when the backup is opened (or by ``lakebox doctor --repair``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.errors import StorageError, ValidationError
from lakebox.ops.relocate import CATALOG_NAME, NAMESPACE, TOML_NAME, _root

log = logging.getLogger(__name__)

TABLE_ATTEMPTS = 5


@dataclass
class BackupReport:
    source: str
    destination: str
    tables: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    online: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "tables": self.tables,
            "files": self.files,
            "bytes": self.bytes,
            "online": self.online,
        }


def backup(box: Any, destination: str | os.PathLike[str], online: Any = None) -> BackupReport:
    """Copy the box to ``destination`` (a new or empty directory) while writers keep going.

    ``online``: this process's open ``OnlineStore`` of the box, if it has one (LMDB allows one
    environment per process); otherwise the online store is opened read-only here.
    The backup is itself a box: connect to it, or copy it back, to restore.
    """
    root = _root(box)
    dest = Path(destination).expanduser().resolve()
    if not (root / TOML_NAME).exists():
        raise StorageError(f"No box at {root} ({TOML_NAME} is missing).")
    if dest == root or root in dest.parents:
        raise ValidationError(f"Back up {root} to a directory outside it, not {dest}.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValidationError(f"The backup destination {dest} exists and is not empty; choose a new directory.")
    report = BackupReport(source=str(root), destination=str(dest))
    (dest / "warehouse").mkdir(parents=True, exist_ok=True)
    for directory in ("online", "artifacts", "logs"):
        (dest / directory).mkdir(exist_ok=True)
    _copy_file(root / TOML_NAME, dest / TOML_NAME, report)
    sqlite_backup(root / "catalog.db", dest / "catalog.db")
    report.online = _copy_online(root / "online", dest / "online", online)
    locations = {}
    for name in _tables(root):
        locations[name] = _copy_table(root, dest, name, report)
        report.tables.append(name)
    sqlite_backup(root / "warehouse" / "iceberg_catalog.db", dest / "warehouse" / "iceberg_catalog.db")
    _point_catalog(dest / "warehouse" / "iceberg_catalog.db", locations)
    if (root / "artifacts").is_dir():
        _copy_tree(root / "artifacts", dest / "artifacts", report)
    log.info("backed up %s to %s: %d tables, %d files", root, dest, len(report.tables), report.files)
    return report


def sqlite_backup(source: Path, destination: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API; WAL included)."""
    if not source.exists():
        raise StorageError(f"{source} is missing; the box is damaged. Run `lakebox doctor`.")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(destination)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise StorageError(f"Cannot back up {source}: {e}. Run `lakebox doctor`.") from e


def _copy_online(source: Path, dest: Path, online: Any) -> bool:
    if not (source / "data.mdb").exists():
        return False
    import lmdb

    try:
        if online is not None:
            online.env.copy(str(dest), compact=True)
            return True
        env = lmdb.open(str(source), readonly=True, lock=True, max_dbs=4096, subdir=True)
        try:
            env.copy(str(dest), compact=True)
        finally:
            env.close()
    except lmdb.Error as e:
        raise StorageError(
            f"Cannot copy the online store {source}: {e}. It is derived data: back up with it removed "
            "from the box, or run `lakebox doctor --repair` first."
        ) from e
    return True


def _tables(root: Path) -> list[str]:
    from lakebox.ops.relocate import _catalog_query

    rows = _catalog_query(
        root, "SELECT table_name FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?",
        (CATALOG_NAME, NAMESPACE),
    )
    return [r[0] for r in rows]


def _copy_table(root: Path, dest: Path, name: str, report: BackupReport) -> str:
    """Copy one table's current metadata and everything it references; its metadata location."""
    from lakebox.ops.references import table_files
    from lakebox.ops.relocate import metadata_location, origin

    for attempt in range(1, TABLE_ATTEMPTS + 1):
        location = metadata_location(root, name)
        if location is None:
            raise StorageError(f"The Iceberg table {name} disappeared during the backup.")
        try:
            for path in table_files(root, origin(root), location):
                relative = Path(path).relative_to(root)
                target = dest / relative
                if not target.exists():
                    _copy_file(Path(path), target, report)
            return location
        except FileNotFoundError as e:  # cleanup removed a file of an expired snapshot
            log.info("backup of %s: %s vanished (attempt %d); copying its newer metadata", name, e.filename, attempt)
    raise StorageError(f"Could not copy a consistent state of {name}: its files kept changing. Retry the backup.")


def _point_catalog(path: Path, locations: dict[str, str]) -> None:
    con = sqlite3.connect(path)
    try:
        with con:
            for name, location in locations.items():
                con.execute(
                    "UPDATE iceberg_tables SET metadata_location = ? WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                    (location, CATALOG_NAME, NAMESPACE, name),
                )
            # tables created after their files were copied are not in this backup
            present = con.execute(
                "SELECT table_name FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?",
                (CATALOG_NAME, NAMESPACE),
            ).fetchall()
            con.executemany(
                "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                [(CATALOG_NAME, NAMESPACE, name) for (name,) in present if name not in locations],
            )
    finally:
        con.close()


def _copy_file(source: Path, target: Path, report: BackupReport) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    report.files += 1
    report.bytes += target.stat().st_size


def _copy_tree(source: Path, dest: Path, report: BackupReport) -> None:
    for path in source.rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            try:
                _copy_file(path, dest / path.relative_to(source), report)
            except FileNotFoundError:
                continue  # removed while copying (a dataset being replaced)
