"""``lakebox doctor``: check a box end to end and say what is wrong and how to fix it.

Checks, in order: ``lakebox.toml``; ``catalog.db`` (SQLite ``integrity_check``); the Iceberg
catalog; for every feature group its Iceberg metadata, manifests and data files (present,
right size, Parquet footer readable), the commit log against the snapshots, its pins, the
online store against the latest offline rows (a sample of keys, or all), and files no
snapshot references; then the online store as a whole, and free disk space. Nothing is
written: ``repair`` (ops/repair.py) does what is safe.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import socket
import sqlite3
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.errors import LakeboxError
from lakebox.ops.references import current_data_files, file_io, local, read_metadata, table_files
from lakebox.ops.relocate import CATALOG_NAME, NAMESPACE, TOML_NAME, _root, origin

log = logging.getLogger(__name__)

ERROR, WARNING, INFO = "error", "warning", "info"
ORPHAN_GRACE_S = 3600.0
MIN_FREE_BYTES = 1 << 30


@dataclass
class Finding:
    severity: str  # error | warning | info
    code: str  # machine-readable: catalog_missing, data_file_missing, online_mismatch, ...
    what: str
    fix: str
    group: str | None = None
    repairable: bool = False  # `lakebox doctor --repair` can fix it (some need --from-backup)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"severity": self.severity, "code": self.code, "what": self.what, "fix": self.fix}
        found.update({"group": self.group, "repairable": self.repairable})
        return found


@dataclass
class Report:
    box: str
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)
    not_repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def add(self, severity: str, code: str, what: str, fix: str, **extra: Any) -> Finding:
        finding = Finding(severity, code, what, fix, **extra)
        self.findings.append(finding)
        return finding

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": self.box,
            "ok": self.ok,
            "checked": self.checked,
            "findings": [f.to_dict() for f in self.findings],
            "repaired": self.repaired,
            "not_repaired": self.not_repaired,
        }


@dataclass
class Group:
    id: int
    name: str
    version: int
    table_name: str
    primary_key: list[str]
    event_time: str | None
    online_enabled: bool
    features: list[tuple[str, str]]

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def check(box: Any, sample: int | None = 1000, online: Any = None) -> Report:
    """Check the box; ``sample`` keys per online group are compared (None: all keys).

    ``online``: this process's open ``OnlineStore`` of the box, if any (LMDB allows one
    environment per process); otherwise the online store is opened here.
    """
    root = _root(box)
    report = Report(box=str(root))
    settings = _check_toml(root, report)
    groups = _check_catalog(root, report)
    registered = _check_iceberg_catalog(root, report)
    warehouse_origin = origin(root) if settings is not None else (root / "warehouse").as_uri()
    report.checked.update(groups=0, tables=0, files=0)
    store = None
    if any(g.online_enabled for g in groups or []):
        store = _online_store(root, report, online, settings)
    for group in groups or []:
        report.checked["groups"] += 1
        if not group.features:
            continue  # nothing written yet: no table
        if registered is not None and group.table_name not in registered:
            report.add(ERROR, "iceberg_table_unregistered", f"{group.label}: its Iceberg table {group.table_name} is not in the Iceberg catalog.",
                       "Run `lakebox doctor --repair` to register its newest metadata file.", group=group.label,
                       repairable=True, data={"table": group.table_name})
            continue
        location = registered.get(group.table_name) if registered is not None else None
        if location is None:
            continue
        metadata = _check_table(root, warehouse_origin, group, location, report)
        if metadata is None:
            continue
        _check_commits(root, group, metadata, report)
        if group.online_enabled and store is not None:
            _check_online(root, warehouse_origin, group, metadata, store, sample, report)
        _check_orphans(root, warehouse_origin, group, location, report)
    if groups is not None and registered is not None:
        known = {g.table_name for g in groups}
        for name in sorted(set(registered) - known):
            report.add(WARNING, "orphan_table", f"The Iceberg table {name} belongs to no feature group of the catalog.",
                       "If the catalog was restored from an older backup, it holds a group the catalog no longer "
                       "knows (read it with pyiceberg, see docs/interop.md); otherwise drop it. Not repaired.",
                       data={"table": name})
    _check_disk(root, report)
    _check_locks(root, report)
    if store is not None and online is None:
        store.close()
    return report


# -- the parts --------------------------------------------------------------------------------
def _check_toml(root: Path, report: Report) -> dict[str, Any] | None:
    path = root / TOML_NAME
    try:
        settings = tomllib.loads(path.read_text())
    except FileNotFoundError:
        report.add(ERROR, "toml_missing", f"{path} is missing.",
                   "Restore it from a backup, or run `lakebox doctor --repair` to write it again.", repairable=True)
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        report.add(ERROR, "toml_damaged", f"{path} is unreadable: {e}.",
                   "Restore it from a backup, or run `lakebox doctor --repair` to write it again.", repairable=True)
        return None
    if not isinstance(settings.get("format_version"), int):
        report.add(ERROR, "toml_damaged", f"{path} has no format_version.",
                   "Run `lakebox doctor --repair` to write it again.", repairable=True)
        return None
    return settings


def sqlite_health(path: Path) -> str | None:
    """None if ``path`` is a healthy SQLite database, else what is wrong with it."""
    if not path.exists():
        return "missing"
    if path.stat().st_size == 0:
        return "empty (0 bytes)"
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        return f"unreadable ({e})"
    problems = [r[0] for r in rows if r[0] != "ok"]
    return f"corrupt ({'; '.join(problems[:3])})" if problems else None


def _check_catalog(root: Path, report: Report) -> list[Group] | None:
    path = root / "catalog.db"
    problem = sqlite_health(path)
    if problem is None:
        try:
            return read_groups(path)
        except sqlite3.Error as e:
            problem = f"unreadable ({e})"
    report.add(ERROR, "catalog_damaged", f"The catalog {path} is {problem}.",
               "Run `lakebox doctor --repair --from-backup BACKUP` to restore it from a backup (commits made "
               "since are re-read from Iceberg).", repairable=True, data={"problem": problem})
    return None


def read_groups(path: Path) -> list[Group]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            # external groups (settings.external) read their source and have no Iceberg table
            "SELECT id, name, version, table_name, primary_key, event_time, online_enabled FROM feature_groups "
            "WHERE json_extract(settings, '$.external') IS NULL ORDER BY id"
        ).fetchall()
        features: dict[int, list[tuple[str, str]]] = {}
        for group_id, name, type_ in con.execute("SELECT group_id, name, type FROM features ORDER BY group_id, position"):
            features.setdefault(group_id, []).append((name, type_))
    finally:
        con.close()
    return [
        Group(r[0], r[1], r[2], r[3], list(json.loads(r[4])), r[5], bool(r[6]), features.get(r[0], []))
        for r in rows
    ]


def _check_iceberg_catalog(root: Path, report: Report) -> dict[str, str] | None:
    path = root / "warehouse" / "iceberg_catalog.db"
    problem = sqlite_health(path)
    if problem is None:
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                rows = con.execute(
                    "SELECT table_name, metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?",
                    (CATALOG_NAME, NAMESPACE),
                ).fetchall()
            finally:
                con.close()
            return {name: location for name, location in rows}
        except sqlite3.Error as e:
            problem = f"unreadable ({e})"
    report.add(ERROR, "iceberg_catalog_damaged", f"The Iceberg catalog {path} is {problem}.",
               "Run `lakebox doctor --repair`: it rebuilds the Iceberg catalog from the newest metadata file of "
               "every table.", repairable=True, data={"problem": problem})
    return None


def _check_table(root: Path, warehouse_origin: str, group: Group, location: str, report: Report) -> Any:
    io = file_io(root, warehouse_origin)
    try:
        metadata = read_metadata(io, location)
    except FileNotFoundError:
        report.add(ERROR, "metadata_missing", f"{group.label}: its current Iceberg metadata {local(io, location)} is missing.",
                   "Run `lakebox doctor --repair` to fall back to the newest older metadata file (the commits "
                   "after it are lost), or restore the box from a backup.", group=group.label, repairable=True,
                   data={"table": group.table_name})
        return None
    except LakeboxError as e:
        report.add(ERROR, "metadata_damaged", f"{group.label}: {e.message}",
                   "Run `lakebox doctor --repair` to fall back to the newest older metadata file (the commits "
                   "after it are lost), or restore the box from a backup.", group=group.label, repairable=True,
                   data={"table": group.table_name})
        return None
    report.checked["tables"] += 1
    missing: list[str] = []
    try:
        for path in table_files(root, warehouse_origin, location):
            report.checked["files"] += 1
            if not os.path.exists(path):
                missing.append(path)
    except FileNotFoundError as e:
        missing.append(str(e.filename))
    except Exception as e:  # noqa: BLE001 - a damaged manifest is a finding, not a crash
        report.add(ERROR, "manifest_damaged", f"{group.label}: an Iceberg manifest is unreadable: {e}.",
                   "Restore the box from a backup (`lakebox doctor --repair --from-backup BACKUP` copies back "
                   "files that are identical in the backup).", group=group.label, repairable=True,
                   data={"table": group.table_name})
        return None
    damaged = []
    try:
        for path, size, rows in current_data_files(io, metadata):
            if path in missing or not os.path.exists(path):
                continue
            problem = _parquet_problem(path, size, rows)
            if problem:
                damaged.append(f"{path} ({problem})")
    except Exception as e:  # noqa: BLE001
        damaged.append(f"manifests unreadable: {e}")
    if missing:
        report.add(ERROR, "files_missing", f"{group.label}: {len(missing)} file(s) its snapshots reference are missing: "
                   f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}.",
                   "Run `lakebox doctor --repair --from-backup BACKUP` to copy them back from a backup; without "
                   "one, roll back or expire the commits that need them.", group=group.label, repairable=True,
                   data={"table": group.table_name, "paths": missing})
    if damaged:
        report.add(ERROR, "data_file_damaged", f"{group.label}: {len(damaged)} data file(s) are damaged: "
                   f"{', '.join(damaged[:3])}.",
                   "Run `lakebox doctor --repair --from-backup BACKUP` to copy them back from a backup.",
                   group=group.label, repairable=True,
                   data={"table": group.table_name, "paths": [d.split(" (")[0] for d in damaged]})
    for name, ref in metadata.refs.items():
        if not any(s.snapshot_id == ref.snapshot_id for s in metadata.snapshots):
            report.add(ERROR, "pin_broken", f"{group.label}: the pin {name} names snapshot {ref.snapshot_id}, which is gone.",
                       "Training datasets pinned to it cannot be recreated; recreate them from a later commit.",
                       group=group.label)
    return metadata


def _parquet_problem(path: str, size: int, rows: int) -> str | None:
    actual = os.path.getsize(path)
    if actual != size:
        return f"{actual} bytes, the manifest says {size}"
    try:
        import pyarrow.parquet as pq

        found = pq.ParquetFile(path).metadata.num_rows
    except Exception as e:  # noqa: BLE001
        return f"not readable Parquet: {e}"
    return None if found == rows else f"{found} rows, the manifest says {rows}"


def _check_commits(root: Path, group: Group, metadata: Any, report: Report) -> None:
    from lakebox.offline.table import commit_from_snapshot

    in_iceberg = {c.commit_id: c for c in (commit_from_snapshot(s) for s in metadata.snapshots) if c is not None}
    con = sqlite3.connect(f"file:{root / 'catalog.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT commit_id, snapshot_id, expired FROM commits WHERE group_id = ?", (group.id,)).fetchall()
    finally:
        con.close()
    recorded = {r[0]: (r[1], bool(r[2])) for r in rows}
    behind = sorted(set(in_iceberg) - set(recorded))
    if behind:
        report.add(WARNING, "commit_log_behind", f"{group.label}: commits {behind[:10]} are in Iceberg but not in the commit log.",
                   "Run `lakebox doctor --repair` (reading the group also repairs it).", group=group.label,
                   repairable=True, data={"group_id": group.id, "table": group.table_name})
    snapshots = {s.snapshot_id for s in metadata.snapshots}
    stale = sorted(c for c, (snapshot, expired) in recorded.items() if not expired and snapshot not in snapshots)
    if stale:
        report.add(WARNING, "commit_log_stale", f"{group.label}: commits {stale[:10]} are in the commit log but their "
                   "snapshots are gone from Iceberg.",
                   "Run `lakebox doctor --repair` to mark them expired (their data can no longer be read).",
                   group=group.label, repairable=True, data={"group_id": group.id, "table": group.table_name})


def _online_store(root: Path, report: Report, online: Any, settings: dict[str, Any] | None) -> Any:
    from lakebox.online.store import OnlineStore

    store = online or OnlineStore(root / "online", (settings or {}).get("box_id"))
    try:
        with store.read():
            pass
    except LakeboxError as e:
        report.add(ERROR, "online_damaged", f"The online store cannot be opened: {e.message}",
                   "Run `lakebox doctor --repair`: it moves online/ aside and rebuilds every online group from "
                   "the offline store.", repairable=True)
        return None
    except Exception as e:  # noqa: BLE001 - an LMDB error that is not typed yet
        report.add(ERROR, "online_damaged", f"The online store cannot be opened: {e}.",
                   "Run `lakebox doctor --repair`: it moves online/ aside and rebuilds every online group.",
                   repairable=True)
        return None
    return store


def group_schema(group: Group) -> Any:
    import pyarrow as pa

    from lakebox.types import parse_type

    return pa.schema([pa.field(name, parse_type(type_)) for name, type_ in group.features])


def latest_rows(root: Path, warehouse_origin: str, group: Group) -> tuple[Any, int]:
    """(latest row per key of the current snapshot, last commit id) of a group."""
    from lakebox.offline import reader
    from lakebox.offline.table import table_commits
    from lakebox.offline.warehouse import Warehouse
    from lakebox.online.table import latest_per_key

    warehouse = Warehouse(root / "warehouse", warehouse_origin)
    try:
        table = warehouse.load(group.table_name)
        current = table.current_snapshot()
        rows = reader.read(table, current.snapshot_id if current else None, group_schema(group))
        commits = table_commits(table)
    finally:
        warehouse.close()
    return latest_per_key(rows, group.primary_key, group.event_time), (commits[-1].commit_id if commits else 0)


def _check_online(root: Path, warehouse_origin: str, group: Group, metadata: Any, store: Any, sample: int | None,
                  report: Report) -> None:
    from lakebox.online.table import OnlineTable

    fix = "Run `lakebox doctor --repair` (or `lakebox online rebuild`) to rebuild it from the offline store."
    try:
        latest, last = latest_rows(root, warehouse_origin, group)
        online = OnlineTable(store, group.table_name, group_schema(group), group.primary_key, group.event_time)
        watermark = store.watermark(group.table_name)
        if watermark < last:
            report.add(WARNING, "online_behind", f"{group.label}: the online store applied commit {watermark} of {last}.",
                       fix + " Reads also catch up on their own.", group=group.label, repairable=True,
                       data={"table": group.table_name})
            return
        indices = list(range(latest.num_rows))
        if sample is not None and len(indices) > sample:
            indices = sorted(random.Random(0).sample(indices, sample))
        wrong = []
        features = online.features
        with store.read(online.name) as txn:
            for i in indices:
                row = latest.slice(i, 1).to_pylist()[0]
                found = online.get(txn, [row[k] for k in group.primary_key])
                if found is None or found[0] != [row[f] for f in features]:
                    wrong.append({k: row[k] for k in group.primary_key})
        served = store.count(group.table_name)
    except LakeboxError as e:
        report.add(ERROR, "online_unreadable", f"{group.label}: its online table cannot be read: {e.message}", fix,
                   group=group.label, repairable=True, data={"table": group.table_name})
        return
    if wrong:
        report.add(ERROR, "online_mismatch", f"{group.label}: {len(wrong)} of {len(indices)} sampled keys differ from the "
                   f"latest offline rows (first: {wrong[0]}).", fix, group=group.label, repairable=True,
                   data={"table": group.table_name})
    elif served != latest.num_rows:
        report.add(ERROR, "online_mismatch", f"{group.label}: the online store serves {served} keys, the offline store "
                   f"has {latest.num_rows}.", fix, group=group.label, repairable=True, data={"table": group.table_name})


def _check_orphans(root: Path, warehouse_origin: str, group: Group, location: str, report: Report) -> None:
    orphans = orphan_files(root, warehouse_origin, group.table_name, location, ORPHAN_GRACE_S)
    if orphans:
        size = sum(p.stat().st_size for p in orphans if p.exists())
        report.add(WARNING, "orphan_files", f"{group.label}: {len(orphans)} file(s) ({size:,} bytes) under its table "
                   "are referenced by no snapshot (left by killed writers or expired commits).",
                   "Run `lakebox doctor --repair` (or `fg.maintain()`) to delete them.", group=group.label,
                   repairable=True, data={"table": group.table_name})


def orphan_files(root: Path, warehouse_origin: str, table_name: str, location: str, grace_s: float) -> list[Path]:
    directory = root / "warehouse" / table_name
    if not directory.is_dir():
        return []
    try:
        referenced = set(table_files(root, warehouse_origin, location))
    except Exception:  # noqa: BLE001 - damaged metadata is reported elsewhere; never guess orphans then
        return []
    io = file_io(root, warehouse_origin)
    try:
        for entry in read_metadata(io, location).metadata_log:
            referenced.add(local(io, entry.metadata_file))
    except Exception:  # noqa: BLE001
        return []
    cutoff = time.time() - grace_s
    found = []
    for path in directory.rglob("*"):
        try:
            if path.is_file() and str(path) not in referenced and path.stat().st_mtime < cutoff:
                found.append(path)
        except OSError:
            continue
    return found


def _check_disk(root: Path, report: Report) -> None:
    usage = shutil.disk_usage(root)
    if usage.free < MIN_FREE_BYTES or usage.free < usage.total * 0.05:
        report.add(WARNING, "disk_space", f"Only {usage.free / 2**30:.1f} GiB free on the disk of {root}.",
                   "Free space (run `fg.maintain()` on large groups to delete expired files) or move the box.")


def _check_locks(root: Path, report: Report) -> None:
    from lakebox.offline.lock import HOLDER_SUFFIX

    locks = root / ".locks"
    if not locks.is_dir():
        return
    for sidecar in locks.glob(f"*{HOLDER_SUFFIX}"):
        try:
            holder = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid") or 0)):
            continue  # left by a killed process; the lock itself died with it
        held = time.time() - float(holder.get("since") or time.time())
        report.add(INFO, "lock_held", f"{sidecar.name[: -len(HOLDER_SUFFIX)]} is held by pid {holder.get('pid')} on "
                   f"{holder.get('host')} ({holder.get('activity')}, {held:.0f} s).",
                   "Nothing to do unless that process is stuck.")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
