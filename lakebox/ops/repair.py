"""``lakebox doctor --repair``: fix what is safe to fix, and say what is not.

Safe repairs: write ``lakebox.toml`` again; restore a lost or damaged catalog from a backup;
rebuild the Iceberg catalog from the newest metadata file of each table; fall back to the
newest readable metadata file of a table whose current one is lost; copy back missing or
damaged files that a backup holds identically (Iceberg files are immutable, so the same
relative path means the same content); re-sync the commit log with the snapshots; rebuild
online tables (moving a damaged online store aside first); delete orphan files. Whatever
was damaged is moved aside (``*.damaged-<time>``), never deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from lakebox.errors import LakeboxError
from lakebox.ops import doctor
from lakebox.ops.doctor import Finding, Report
from lakebox.ops.relocate import CATALOG_NAME, NAMESPACE, TOML_NAME, _root, origin

log = logging.getLogger(__name__)

PASSES = 3


def repair(box: Any, backup: str | os.PathLike[str] | None = None, online: Any = None, sample: int | None = 1000) -> Report:
    """Check the box, repair what can be repaired safely, check again; the final report lists
    what was done (``repaired``) and what was not (``not_repaired``, with the reason)."""
    root = _root(box)
    source = Path(backup).expanduser().resolve() if backup is not None else None
    done: list[str] = []
    refused: dict[str, str] = {}
    report = doctor.check(root, sample=sample, online=online)
    for _ in range(PASSES):
        todo = [f for f in report.findings if f.repairable and _key(f) not in refused]
        if not todo:
            break
        progressed = False
        for finding in _ordered(todo):
            try:
                action = _repair_one(root, finding, source, online)
            except LakeboxError as e:
                refused[_key(finding)] = f"{finding.what} — repair failed: {e.message}"
                continue
            except Exception as e:  # noqa: BLE001 - a repair must report, never crash the doctor
                log.warning("repair of %s failed", finding.code, exc_info=True)
                refused[_key(finding)] = f"{finding.what} — repair failed: {e}"
                continue
            if action.startswith("cannot:"):
                refused[_key(finding)] = f"{finding.what} — {action[len('cannot: '):]}"
            else:
                done.append(action)
                progressed = True
            if finding.code in ("catalog_damaged", "iceberg_catalog_damaged", "toml_missing", "toml_damaged"):
                break  # everything else was judged against the damaged part: look again
        report = doctor.check(root, sample=sample, online=online)
        if not progressed:
            break
    report.repaired = done
    report.not_repaired = list(refused.values()) + [
        f"{f.what} — {f.fix}" for f in report.findings if f.severity != doctor.INFO and _key(f) not in refused
        and not f.repairable
    ]
    return report


_ORDER = ["toml_missing", "toml_damaged", "catalog_damaged", "iceberg_catalog_damaged", "iceberg_table_unregistered",
          "metadata_missing", "metadata_damaged", "files_missing", "data_file_damaged", "manifest_damaged",
          "commit_log_behind", "commit_log_stale", "online_damaged", "online_unreadable", "online_behind",
          "online_mismatch", "orphan_files"]


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: _ORDER.index(f.code) if f.code in _ORDER else len(_ORDER))


def _key(finding: Finding) -> str:
    return f"{finding.code}:{finding.group}"


def _repair_one(root: Path, finding: Finding, backup: Path | None, online: Any) -> str:
    code = finding.code
    table = finding.data.get("table")
    if code in ("toml_missing", "toml_damaged"):
        return _write_toml(root, backup)
    if code == "catalog_damaged":
        if backup is None:
            return "cannot: no backup given (run `lakebox doctor --repair --from-backup BACKUP`)"
        return _restore_catalog(root, backup)
    if code == "iceberg_catalog_damaged":
        return _rebuild_iceberg_catalog(root)
    if code == "iceberg_table_unregistered":
        return _register_newest(root, str(table))
    if code in ("metadata_missing", "metadata_damaged"):
        return _fall_back_metadata(root, str(table), finding)
    if code in ("files_missing", "data_file_damaged", "manifest_damaged"):
        return _restore_files(root, finding, backup)
    if code in ("commit_log_behind", "commit_log_stale"):
        return _sync_commits(root, finding)
    if code == "online_damaged":
        return _reset_online(root, online)
    if code in ("online_unreadable", "online_behind", "online_mismatch"):
        return _rebuild_online(root, str(table), online)
    if code == "orphan_files":
        return _delete_orphans(root, str(table))
    return f"cannot: no repair for {code}"


def _aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}")
    os.replace(path, target)
    return target


def _write_toml(root: Path, backup: Path | None) -> str:
    path = root / TOML_NAME
    if backup is not None and (backup / TOML_NAME).exists():
        if path.exists():
            _aside(path)
        shutil.copyfile(backup / TOML_NAME, path)
        return f"restored {TOML_NAME} from {backup}"
    origin_uri = _infer_origin(root)
    box_id = _catalog_box_id(root)
    lines = [
        "# lakebox box: everything of this lakehouse lives in this directory.",
        "format_version = 1",
        "# Where the warehouse was created; Iceberg metadata records paths under it (never edit this).",
        f'warehouse_origin = "{origin_uri}"',
    ]
    if box_id:
        lines.append(f'box_id = "{box_id}"')
    if path.exists():
        _aside(path)
    tmp = path.with_name(f"{TOML_NAME}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return f"wrote {TOML_NAME} again (warehouse origin {origin_uri}{', box id ' + box_id if box_id else ''})"


def _infer_origin(root: Path) -> str:
    """The warehouse URI the Iceberg catalog's metadata paths were written under."""
    current = (root / "warehouse").as_uri()
    rows = _read_only(root / "warehouse" / "iceberg_catalog.db", "SELECT table_name, metadata_location FROM iceberg_tables")
    if rows is None:
        return current
    for name, location in rows:
        marker = f"/{name}/metadata/"
        if location and marker in location:
            return location.split(marker)[0]
    return current


def _catalog_box_id(root: Path) -> str | None:
    rows = _read_only(root / "catalog.db", "SELECT value FROM box_meta WHERE key = 'box_id'")
    return str(rows[0][0]) if rows else None


def _read_only(path: Path, sql: str) -> list[tuple[Any, ...]] | None:
    """Rows of a fixed query on a SQLite file opened read-only; None if it cannot be read
    (a repair inspects damaged files: it must never create or change them)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None


def _restore_catalog(root: Path, backup: Path) -> str:
    from lakebox.ops.backup import sqlite_backup

    source = backup / "catalog.db"
    if doctor.sqlite_health(source) is not None:
        return f"cannot: the backup's catalog {source} is {doctor.sqlite_health(source)}"
    for suffix in ("", "-wal", "-shm"):
        path = root / f"catalog.db{suffix}"
        if path.exists():
            _aside(path)
    sqlite_backup(source, root / "catalog.db")
    return f"restored catalog.db from {backup} (commits made since are re-read from Iceberg)"


def _metadata_files(root: Path, table: str) -> list[Path]:
    """A table's metadata files, newest version first."""
    directory = root / "warehouse" / table / "metadata"

    def version(path: Path) -> int:
        match = re.match(r"^(\d+)-", path.name)
        return int(match.group(1)) if match else -1

    return sorted(directory.glob("*.metadata.json"), key=lambda p: (version(p), p.stat().st_mtime), reverse=True)


def _newest_readable(root: Path, table: str, excluding: str | None = None) -> str | None:
    """The recorded location of the newest metadata file of ``table`` that parses and whose
    files exist (or None)."""
    from lakebox.ops.references import file_io, read_metadata, table_files

    warehouse_origin = origin(root)
    for path in _metadata_files(root, table):
        recorded = f"{warehouse_origin}/{table}/metadata/{path.name}"
        if excluding is not None and recorded == excluding:
            continue
        try:
            read_metadata(file_io(root, warehouse_origin), recorded)
            if all(os.path.exists(p) for p in table_files(root, warehouse_origin, recorded, data=False)):
                return recorded
        except Exception:  # noqa: BLE001 - try the next older one
            continue
    return None


def _rebuild_iceberg_catalog(root: Path) -> str:
    from lakebox.offline.warehouse import Warehouse

    path = root / "warehouse" / "iceberg_catalog.db"
    tables = [d.name for d in (root / "warehouse").iterdir() if (d / "metadata").is_dir()]
    found = {t: _newest_readable(root, t) for t in tables}
    if path.exists():
        _aside(path)
    warehouse = Warehouse(root / "warehouse", origin(root))
    try:
        catalog = warehouse.catalog  # creates the catalog tables and the namespace
        for table, location in found.items():
            if location is not None:
                catalog.register_table(f"{NAMESPACE}.{table}", location)
    finally:
        warehouse.close()
    lost = sorted(t for t, loc in found.items() if loc is None)
    return (f"rebuilt the Iceberg catalog from metadata files ({len(found) - len(lost)} tables)"
            + (f"; no readable metadata for {lost}" if lost else ""))


def _register_newest(root: Path, table: str) -> str:
    from lakebox.offline.warehouse import Warehouse

    location = _newest_readable(root, table)
    if location is None:
        return f"cannot: {table} has no readable metadata file; restore the box from a backup"
    warehouse = Warehouse(root / "warehouse", origin(root))
    try:
        warehouse.catalog.register_table(f"{NAMESPACE}.{table}", location)
    finally:
        warehouse.close()
    return f"registered {table} at {location}"


def _fall_back_metadata(root: Path, table: str, finding: Finding) -> str:
    import sqlite3

    from lakebox.offline.lock import WriteLock
    from lakebox.ops.relocate import metadata_location

    with WriteLock(root / ".locks" / f"{table}.lock", name=table)("doctor: repairing metadata"):
        current = metadata_location(root, table)
        location = _newest_readable(root, table, excluding=current)
        if location is None:
            return f"cannot: {finding.group} has no older readable metadata file; restore the box from a backup"
        con = sqlite3.connect(root / "warehouse" / "iceberg_catalog.db", timeout=30)
        try:
            with con:
                con.execute(
                    "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = NULL "
                    "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                    (location, CATALOG_NAME, NAMESPACE, table),
                )
        finally:
            con.close()
    return f"{finding.group}: fell back to the metadata file {location.rsplit('/', 1)[-1]} (later commits are lost)"


def _restore_files(root: Path, finding: Finding, backup: Path | None) -> str:
    paths = [Path(p) for p in finding.data.get("paths", [])]
    if backup is None or not paths:
        return f"cannot: {finding.group}'s files can only come back from a backup (`--from-backup BACKUP`)"
    restored, absent = 0, []
    for path in paths:
        try:
            relative = path.relative_to(root)
        except ValueError:
            absent.append(str(path))
            continue
        source = backup / relative
        if not source.exists():
            absent.append(str(relative))
            continue
        if path.exists():
            _aside(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".restoring")
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)
        restored += 1
    if absent:
        return f"cannot: {finding.group}: the backup lacks {absent[:3]}; restore the whole box from a backup"
    return f"{finding.group}: copied {restored} file(s) back from {backup}"


def _sync_commits(root: Path, finding: Finding) -> str:
    from lakebox.catalog.db import CatalogDB
    from lakebox.catalog.groups import GroupStore
    from lakebox.offline.table import table_commits
    from lakebox.offline.warehouse import Warehouse

    group_id = int(finding.data["group_id"])
    warehouse = Warehouse(root / "warehouse", origin(root))
    db = CatalogDB(root / "catalog.db")
    try:
        table = warehouse.load(str(finding.data["table"]))
        groups = GroupStore(db)
        groups.record_commits(group_id, table_commits(table))
        live = {s.snapshot_id for s in table.metadata.snapshots}
        gone = [c.snapshot_id for c in groups.commits(group_id) if not c.expired and c.snapshot_id not in live]
        groups.mark_expired(group_id, gone)
    finally:
        db.close()
        warehouse.close()
    return f"{finding.group}: re-synced the commit log with Iceberg"


def _reset_online(root: Path, online: Any) -> str:
    if online is not None:
        return "cannot: the online store is open in this process; run `lakebox doctor --repair` from a shell"
    directory = root / "online"
    if directory.exists():
        moved = _aside(directory)
        directory.mkdir()
        return f"moved the damaged online store to {moved.name}; online groups are rebuilt next"
    directory.mkdir()
    return "created an empty online store; online groups are rebuilt next"


def _rebuild_online(root: Path, table: str, online: Any) -> str:
    import tomllib

    from lakebox.offline.lock import WriteLock
    from lakebox.online.store import OnlineStore
    from lakebox.online.table import OnlineTable

    group = next((g for g in doctor.read_groups(root / "catalog.db") if g.table_name == table), None)
    if group is None:
        return f"cannot: no group owns {table}"
    box_id = tomllib.loads((root / TOML_NAME).read_text()).get("box_id")
    store = online or OnlineStore(root / "online", box_id)
    try:
        with WriteLock(root / ".locks" / f"{table}.lock", name=table)("doctor: rebuilding online"):
            latest, last = doctor.latest_rows(root, origin(root), group)
            OnlineTable(store, table, doctor.group_schema(group), group.primary_key, group.event_time).rebuild(latest, last)
    finally:
        if online is None:
            store.close()
    return f"{group.label}: rebuilt its online table ({latest.num_rows} keys)"


def _delete_orphans(root: Path, table: str) -> str:
    from lakebox.offline.lock import WriteLock
    from lakebox.ops.relocate import metadata_location

    with WriteLock(root / ".locks" / f"{table}.lock", name=table)("doctor: deleting orphan files"):
        location = metadata_location(root, table)
        if location is None:
            return f"cannot: {table} is not registered"
        orphans = doctor.orphan_files(root, origin(root), table, location, doctor.ORPHAN_GRACE_S)
        for path in orphans:
            path.unlink(missing_ok=True)
    return f"{table}: deleted {len(orphans)} orphan file(s)"
