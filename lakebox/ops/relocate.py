"""A box that other engines can find: its Iceberg catalog configuration, and relocation.

Iceberg metadata records absolute paths. lakebox maps the paths of a copied or moved box
to its current directory on the fly (``offline/fileio.py``), but Spark, Trino or a plain
pyiceberg catalog read the recorded paths, which still name the ORIGINAL box. ``relocate``
rewrites every table's metadata for the box's current location the Iceberg way (like
Spark's ``rewrite_table_path``): new manifests, manifest lists and a new ``metadata.json``
whose paths name the current directory, registered in the box's SQL catalog; nothing is
edited in place, so a reader of the old metadata is never disturbed. Then ``lakebox.toml``
records the current warehouse as the origin.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.boxformat import CATALOG_NAME, KEYINDEX_DIRNAME, NAMESPACE
from lakebox.errors import ConflictError, StorageError

log = logging.getLogger(__name__)

TOML_NAME = "lakebox.toml"
_ORIGIN_LINE = re.compile(r'^warehouse_origin\s*=.*$', re.MULTILINE)


def _root(box: Any) -> Path:
    """The box directory of a path or a ``Box``."""
    path = box if isinstance(box, (str, os.PathLike)) else box.root
    return Path(path).expanduser().resolve()


def warehouse_uri(box: Any) -> str:
    """The current warehouse URI of the box (``file:///.../warehouse``)."""
    return (_root(box) / "warehouse").as_uri()


def origin(box: Any) -> str:
    """The warehouse URI recorded in ``lakebox.toml`` (where Iceberg paths point)."""
    root = _root(box)
    try:
        settings = tomllib.loads((root / TOML_NAME).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise StorageError(f"Cannot read {root / TOML_NAME}: {e}. Restore it from a backup.") from e
    found = settings.get("warehouse_origin")
    return found if isinstance(found, str) else warehouse_uri(root)


def moved(box: Any) -> bool:
    """True when the box was copied or moved since its Iceberg metadata was written: lakebox
    reads it correctly, but other engines would read the files of the original location
    (fix: ``lakebox box relocate``). Cheap: reads ``lakebox.toml`` only."""
    return origin(box) != warehouse_uri(box)


def catalog_uri(box: Any) -> str:
    """The SQLAlchemy URI of the box's Iceberg SQL catalog."""
    return f"sqlite:///{_root(box) / 'warehouse' / 'iceberg_catalog.db'}"


def describe_table(box: Any, table_name: str) -> dict[str, Any]:
    """How another engine finds a group's Iceberg table: catalog name and type, SQL catalog
    URI, warehouse, identifier and current metadata location (``fg.describe()``).

    >>> describe_table(box, "players_v1_1a2b3c")["identifier"]
    'lakebox.players_v1_1a2b3c'
    """
    root = _root(box)
    location = metadata_location(root, table_name)
    is_moved = moved(root)
    info: dict[str, Any] = {
        "catalog_name": CATALOG_NAME,
        "catalog_type": "sql",
        "catalog_uri": catalog_uri(root),
        "catalog_jdbc_uri": f"jdbc:sqlite:{root / 'warehouse' / 'iceberg_catalog.db'}",
        "warehouse": warehouse_uri(root),
        "namespace": NAMESPACE,
        "table": table_name,
        "identifier": f"{NAMESPACE}.{table_name}",
        "metadata_location": location,
        "moved": is_moved,
    }
    if is_moved:
        info["warning"] = (
            "This box was copied or moved: its Iceberg metadata still names the original location, "
            "so other engines would read the original box. Run `lakebox box relocate`."
        )
    return info


def metadata_location(box: Any, table_name: str) -> str | None:
    """The current metadata.json of a table as registered in the SQL catalog (None: not there)."""
    rows = _catalog_query(
        _root(box),
        "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
        (CATALOG_NAME, NAMESPACE, table_name),
    )
    return rows[0][0] if rows else None


def _catalog_query(root: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    path = root / "warehouse" / "iceberg_catalog.db"
    if not path.exists():
        raise StorageError(f"The Iceberg catalog {path} is missing. Run `lakebox doctor --repair` to rebuild it.")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise StorageError(f"Cannot read the Iceberg catalog {path}: {e}. Run `lakebox doctor`.") from e


# -- relocation -----------------------------------------------------------------------------
@dataclass
class Relocation:
    origin: str
    current: str
    tables: list[str] = field(default_factory=list)
    files_written: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "current": self.current, "tables": self.tables, "files_written": self.files_written}


def relocate(box: Any) -> Relocation:
    """Rewrite the Iceberg metadata of every table of the box for its current location and
    record that location in ``lakebox.toml``. Idempotent; a box that never moved is a no-op.

    Each table is rewritten under its write lock (writers wait a moment, never see half of it).
    """
    from lakebox.offline.lock import WriteLock
    from lakebox.offline.warehouse import Warehouse

    root = _root(box)
    old, new = origin(root), warehouse_uri(root)
    report = Relocation(origin=old, current=new)
    if old == new:
        return report
    warehouse = Warehouse(root / "warehouse", old)
    try:
        names = [r[0] for r in _catalog_query(
            root, "SELECT table_name FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?",
            (CATALOG_NAME, NAMESPACE),
        )]
        for name in names:
            with WriteLock(root / ".locks" / f"{name}.lock", name=name)("relocate"):
                report.files_written += _relocate_table(root, warehouse, name, old, new)
                # its key index names the old paths: rebuilt by the next upsert
                shutil.rmtree(root / KEYINDEX_DIRNAME / name, ignore_errors=True)
            report.tables.append(name)
    finally:
        warehouse.close()
    set_origin(root, new)
    log.info("relocated %d tables of %s from %s", len(report.tables), root, old)
    return report


def _relocate_table(root: Path, warehouse: Any, name: str, old: str, new: str) -> int:
    from pyiceberg.manifest import DataFileContent, write_manifest, write_manifest_list
    from pyiceberg.serializers import ToOutputFile

    from lakebox.offline.deletes import relocated_file

    table = warehouse.load(name)
    metadata = table.metadata
    io = table.io  # reads recorded (old) paths from the current directory

    def moved_path(path: str) -> str:
        return new + path[len(old) :] if path.startswith(old) else path

    if not metadata.location.startswith(old):
        return 0  # already relocated (or written elsewhere): nothing to rewrite
    location = moved_path(metadata.location)
    meta_dir = f"{location}/metadata"
    tag = uuid.uuid4().hex[:12]
    written = 0
    manifests_done: dict[str, Any] = {}
    deletes_done: dict[str, Any] = {}  # merge-on-read delete files (offline/deletes.py), rewritten once
    snapshots = []
    for snapshot in metadata.snapshots:
        rewritten = []
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path not in manifests_done:
                spec = metadata.specs()[manifest.partition_spec_id]
                target = f"{meta_dir}/{uuid.uuid4()}-r{tag}-m0.avro"
                with write_manifest(
                    format_version=metadata.format_version,
                    spec=spec,
                    schema=metadata.schema(),
                    output_file=io.new_output(target),
                    snapshot_id=manifest.added_snapshot_id,
                    avro_compression="deflate",
                ) as writer:
                    for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
                        if entry.data_file.content == DataFileContent.POSITION_DELETES:
                            # it names data files by their recorded paths: a copy names the moved ones
                            if entry.data_file.file_path not in deletes_done:
                                target_file = f"{location}/data/{uuid.uuid4()}-r{tag}-deletes.parquet"
                                deletes_done[entry.data_file.file_path] = relocated_file(
                                    table, entry.data_file, moved_path, target_file
                                )
                            entry.data_file = deletes_done[entry.data_file.file_path]
                            written += 1
                        else:
                            entry.data_file[1] = moved_path(entry.data_file.file_path)
                        writer.add_entry(entry)
                length = writer.to_manifest_file().manifest_length
                copy = type(manifest)(*manifest._data)
                copy[0], copy[1] = target, length
                manifests_done[manifest.manifest_path] = copy
                written += 1
            rewritten.append(manifests_done[manifest.manifest_path])
        manifest_list = f"{meta_dir}/snap-{snapshot.snapshot_id}-r{tag}-{uuid.uuid4()}.avro"
        with write_manifest_list(
            format_version=metadata.format_version,
            output_file=io.new_output(manifest_list),
            snapshot_id=snapshot.snapshot_id,
            parent_snapshot_id=snapshot.parent_snapshot_id,
            sequence_number=snapshot.sequence_number,
            avro_compression="deflate",
        ) as list_writer:
            list_writer.add_manifests(rewritten)
        written += 1
        snapshots.append(snapshot.model_copy(update={"manifest_list": manifest_list}))
    statistics = [s.model_copy(update={"statistics_path": moved_path(s.statistics_path)}) for s in metadata.statistics]
    updated = metadata.model_copy(
        update={"location": location, "snapshots": snapshots, "metadata_log": [], "statistics": statistics}
    )
    version = _metadata_version(table.metadata_location) + 1
    new_location = f"{meta_dir}/{version:05d}-{uuid.uuid4()}.metadata.json"
    ToOutputFile.table_metadata(updated, io.new_output(new_location))
    written += 1
    _swap_metadata(root, name, table.metadata_location, new_location)
    return written


def _metadata_version(location: str) -> int:
    match = re.match(r"^(\d+)-", location.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else 0


def _swap_metadata(root: Path, name: str, expected: str, new_location: str) -> None:
    """Point the SQL catalog at the new metadata (compare-and-swap on the old location)."""
    path = root / "warehouse" / "iceberg_catalog.db"
    con = sqlite3.connect(path, timeout=30)
    try:
        with con:
            cursor = con.execute(
                "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
                "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
                (new_location, expected, CATALOG_NAME, NAMESPACE, name, expected),
            )
            if cursor.rowcount != 1:
                raise ConflictError(
                    f"The Iceberg table {name} changed while it was being relocated (a writer outside lakebox?). "
                    "Run `lakebox box relocate` again."
                )
    except sqlite3.Error as e:
        raise StorageError(f"Cannot update the Iceberg catalog {path}: {e}") from e
    finally:
        con.close()


def set_origin(box: Any, uri: str) -> None:
    """Record ``uri`` as the warehouse origin in ``lakebox.toml`` (atomic rewrite, other
    settings kept)."""
    toml = _root(box) / TOML_NAME
    text = toml.read_text()
    line = f"warehouse_origin = {_toml_string(uri)}"
    text = _ORIGIN_LINE.sub(lambda _: line, text) if _ORIGIN_LINE.search(text) else text.rstrip("\n") + "\n" + line + "\n"
    tmp = toml.with_name(f"{TOML_NAME}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, toml)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
