"""The Iceberg warehouse of a box: pyiceberg's SQLite-backed SqlCatalog (DESIGN §1).

Damage surfaces as a ``StorageError`` naming the file and the way back, never as a foreign
exception: a missing or truncated ``metadata.json`` makes pyiceberg raise
``FileNotFoundError``, pydantic's ``ValidationError`` or a JSON error, and a damaged
``iceberg_catalog.db`` SQLAlchemy's errors. ``iceberg_errors`` is the translation, for the
engines that read and write tables too. The Iceberg catalog records the box id (a property
of the ``lakebox`` namespace): one of another box is refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import sqlalchemy
import sqlalchemy.event
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.exceptions import ValidationError as IcebergValidationError
from pyiceberg.io import PY_IO_IMPL
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import (
    TableRequirement,
    TableUpdate,
    _apply_table_update,
    _TableMetadataUpdateContext,
    _update_table_metadata_log,
)
from pyiceberg.utils.datetime import datetime_to_millis

from lakebox.boxformat import NAMESPACE
from lakebox.errors import AlreadyExistsError, NotFoundError, StorageError
from lakebox.offline.fileio import CURRENT, ORIGIN

log = logging.getLogger(__name__)

BOX_ID_PROPERTY = "lakebox.box-id"
ICEBERG_CATALOG = "iceberg_catalog.db"
DAMAGE_HINT = (
    "Restore the box's warehouse/ from a backup made by `lakebox backup`, or run `lakebox doctor` "
    "to see what is damaged and what `lakebox doctor --repair` can fix."
)

# Old metadata.json files are not needed for time travel (snapshots live in the current
# metadata); keep a few for forensics and let pyiceberg delete the rest after each commit.
TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "write.parquet.compression-codec": "zstd",
    # Measured in Arrow memory, not on disk (~5x smaller after compression). 64 MiB splits a
    # 1M x 12 batch into two files that pyiceberg writes in parallel threads.
    "write.target-file-size-bytes": str(64 * 1024 * 1024),
    # pyiceberg's default 2 MiB dictionary page limit makes Parquet hash every value of a
    # high-cardinality column (random floats) into a dictionary it then abandons: 256 KiB
    # falls back to plain encoding early, so a 1M x 12 write takes ~40% less CPU than with
    # the default, and files come out smaller; low-cardinality columns still fit.
    "write.parquet.dict-size-bytes": str(256 * 1024),
    # Appends merge small manifests once 16 accumulate, so planning a merge reads a bounded
    # number of manifests however many commits a group has (lakebox merges by default; see
    # offline/table.py).
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
}


class Warehouse:
    """Creates, loads and drops the Iceberg tables under ``box/warehouse``.

    ``box_id``: when given, the Iceberg catalog must record the same box id (one that
    records none, new or from an older lakebox, adopts it).
    """

    def __init__(self, root: Path, origin: str | None = None, box_id: str | None = None) -> None:
        self.root = root
        self.origin = origin or root.as_uri()
        self.box_id = box_id
        self._catalog: SqlCatalog | None = None
        self._pid = -1

    @property
    def catalog(self) -> SqlCatalog:
        if self._catalog is None or self._pid != os.getpid():  # never reuse engines across fork
            try:
                catalog = self._open()
            except StorageError:
                raise
            except Exception as e:  # sqlalchemy / pyiceberg errors vary by version
                raise StorageError(
                    f"Cannot open the Iceberg catalog {self.root / ICEBERG_CATALOG}: {e}. {DAMAGE_HINT}",
                    path=str(self.root / ICEBERG_CATALOG),
                ) from e
            self._catalog, self._pid = catalog, os.getpid()
        return self._catalog

    def _open(self) -> SqlCatalog:
        """The SqlCatalog with its namespace and this box's id. Processes opening a new box at
        once race on each step (pyiceberg creates its tables and namespace check-then-insert):
        the loser fails on "already exists" or a unique constraint, and a second try finds
        what the winner wrote."""
        for attempt in range(1, 6):
            catalog = None
            try:
                catalog = BoxCatalog(
                    "lakebox",
                    uri=f"sqlite:///{self.root / ICEBERG_CATALOG}",
                    warehouse=self.root.as_uri(),
                    **{
                        PY_IO_IMPL: "lakebox.offline.fileio.BoxFileIO",
                        ORIGIN: self.origin,
                        CURRENT: self.root.as_uri(),
                    },
                )
                _fast_commits(catalog.engine)
                catalog.create_namespace_if_not_exists(NAMESPACE)
                self._check_box_id(catalog)
                return catalog
            except StorageError:
                raise
            except Exception:  # noqa: BLE001 - the other process's rows are there on the next try
                if catalog is not None:
                    catalog.engine.dispose()
                if attempt == 5:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _check_box_id(self, catalog: SqlCatalog) -> None:
        if self.box_id is None:
            return
        found = catalog.load_namespace_properties(NAMESPACE).get(BOX_ID_PROPERTY)
        if found is None:
            catalog.update_namespace_properties(NAMESPACE, updates={BOX_ID_PROPERTY: self.box_id})
        elif found != self.box_id:
            catalog.engine.dispose()
            raise StorageError(
                f"The Iceberg catalog {self.root / ICEBERG_CATALOG} belongs to another box (box id {found}, this "
                f"box is {self.box_id}): it was copied in from elsewhere. Put the box's own warehouse/ back. "
                f"{DAMAGE_HINT}",
                path=str(self.root / ICEBERG_CATALOG),
            )

    def close(self) -> None:
        """Dispose of the SQLAlchemy engine (its pooled SQLite connections) now, not at GC."""
        if self._catalog is not None and self._pid == os.getpid():
            self._catalog.engine.dispose()
        self._catalog = None

    def identifier(self, table_name: str) -> str:
        return f"{NAMESPACE}.{table_name}"

    def location(self, table_name: str) -> Path:
        return self.root / table_name

    def create(self, table_name: str, schema: pa.Schema) -> Table:
        location = self.location(table_name)
        with iceberg_errors(self, table_name, "create"):
            if location.exists():
                # Files left by a group that was deleted while another process read it: not ours to keep.
                shutil.rmtree(location)
            try:
                return self.catalog.create_table(
                    self.identifier(table_name), schema=schema, location=location.as_uri(), properties=TABLE_PROPERTIES
                )
            except TableAlreadyExistsError as e:
                raise AlreadyExistsError(f"The Iceberg table {table_name} already exists.") from e

    def load(self, table_name: str) -> Table:
        with iceberg_errors(self, table_name, "load"):
            try:
                return self.catalog.load_table(self.identifier(table_name))
            except NoSuchTableError as e:
                raise NotFoundError(
                    f"The Iceberg table {table_name} is missing from the warehouse; the box is damaged "
                    f"or the group was deleted by another process. {DAMAGE_HINT}"
                ) from e

    def exists(self, table_name: str) -> bool:
        with iceberg_errors(self, table_name, "look up"):
            return bool(self.catalog.table_exists(self.identifier(table_name)))

    def drop(self, table_name: str) -> None:
        with iceberg_errors(self, table_name, "drop"):
            try:
                self.catalog.drop_table(self.identifier(table_name))
            except NoSuchTableError:
                pass
        shutil.rmtree(self.location(table_name), ignore_errors=True)

    def metadata_location(self, table_name: str) -> str | None:
        """Where the Iceberg catalog says the table's current ``metadata.json`` is (None: it
        does not know the table, or cannot be read)."""
        try:
            with self.catalog.engine.connect() as conn:
                row = conn.execute(
                    sqlalchemy.text(
                        "SELECT metadata_location FROM iceberg_tables "
                        "WHERE table_namespace = :namespace AND table_name = :name"
                    ),
                    {"namespace": NAMESPACE, "name": table_name},
                ).fetchone()
        except Exception:  # best effort: only used to word an error message
            return None
        return str(row[0]) if row and row[0] else None


class BoxCatalog(SqlCatalog):
    """pyiceberg's SqlCatalog with a commit that costs O(new metadata), not three passes more.

    ``SqlCatalog.commit_table`` re-reads the current ``metadata.json`` from disk (parsing the
    whole history), applies the updates to it and deep-copies the result, before writing the
    new file and swapping the pointer: a 1,000-row commit spent most of its time there. When
    the table object being committed is the one the catalog points at (always so for a
    writer under its lock: ``GroupTable`` reuses the table it committed last), its metadata
    *is* the current one: the updates are applied to it without the copy (metadata models are
    frozen; updates build new ones), and the pointer swap is the same compare-and-swap on the
    metadata location. When another process committed in between, the swap matches no row
    and pyiceberg's own path runs (fresh load, its requirement checks, its conflict errors).
    (Private pyiceberg helpers; pyiceberg is pinned.)
    """

    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        base = table.metadata_location
        if not base:
            return super().commit_table(table, requirements, updates)
        for requirement in requirements:
            requirement.validate(table.metadata)  # as pyiceberg does, against the (current) base
        metadata = _updated(table.metadata, base, updates)
        version = self._parse_metadata_version(base) + 1
        location = load_location_provider(metadata.location, metadata.properties).new_table_metadata_file_location(version)
        io = self._load_file_io(properties=metadata.properties, location=location)
        self._write_metadata(metadata=metadata, io=io, metadata_path=location)
        namespace, name = table.name()[:-1], table.name()[-1]
        with self.engine.begin() as conn:
            swapped = conn.execute(
                sqlalchemy.text(
                    "UPDATE iceberg_tables SET metadata_location = :new, previous_metadata_location = :old "
                    "WHERE catalog_name = :catalog AND table_namespace = :namespace AND table_name = :name "
                    "AND metadata_location = :old"
                ),
                {"new": location, "old": base, "catalog": self.name, "namespace": ".".join(namespace), "name": name},
            ).rowcount
        if swapped == 1:
            # pydantic takes the field name too (populate_by_name), as pyiceberg's own catalogs call it; mypy sees the alias only
            return CommitTableResponse(metadata=metadata, metadata_location=location)  # type: ignore[call-arg]
        io.delete(location)  # never pointed at: the slow path writes its own
        return super().commit_table(table, requirements, updates)


def _updated(base: TableMetadata, location: str, updates: tuple[TableUpdate, ...]) -> TableMetadata:
    """pyiceberg's ``update_table_metadata`` for an existing table, minus its final deep copy."""
    from datetime import datetime

    context = _TableMetadataUpdateContext()
    metadata = base
    for update in updates:
        metadata = _apply_table_update(update, metadata, context)
    if context.has_changes():
        metadata = _update_table_metadata_log(metadata, location, base.last_updated_ms)
        if base.last_updated_ms == metadata.last_updated_ms:
            metadata = metadata.model_copy(update={"last_updated_ms": datetime_to_millis(datetime.now().astimezone())})
    metadata.spec().check_compatible(metadata.schema())
    metadata.sort_order().check_compatible(metadata.schema())
    return metadata


def _fast_commits(engine: sqlalchemy.engine.Engine) -> None:
    """WAL journal and ``synchronous=NORMAL`` for the Iceberg catalog, as for catalog.db.

    pyiceberg's SqlCatalog opens SQLite with its defaults (a rollback journal, a full fsync per
    commit): on a busy disk its commit of one metadata pointer took most of a small insert's
    time. In WAL mode with NORMAL sync a commit is durable once it is in the WAL (a process
    crash never loses it; a power cut may lose the last commits, never corrupt the file), the
    same trade catalog.db makes (catalog/db.py). The pragmas apply to every pooled connection.
    """

    def pragmas(connection: object, _record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        try:
            try:
                cursor.execute("PRAGMA journal_mode = WAL")  # persistent: once per file
            except Exception:  # noqa: BLE001 - another process holds it; its own open sets it
                log.debug("could not switch the Iceberg catalog to WAL now", exc_info=True)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    sqlalchemy.event.listen(engine, "connect", pragmas)
    engine.dispose()  # the connection pyiceberg opened to create its tables predates the hook


@contextmanager
def iceberg_errors(warehouse: Warehouse, table_name: str, what: str = "read") -> Iterator[None]:
    """Translate the foreign exceptions of damaged Iceberg files or catalog into a
    ``StorageError`` naming the table's metadata file and the way back."""
    try:
        yield
    except (StorageError, AlreadyExistsError, NotFoundError):
        raise
    except (OSError, ValueError, IcebergValidationError, sqlalchemy.exc.SQLAlchemyError) as e:  # pydantic: ValueError
        if isinstance(e, OSError) and e.errno is not None and "space" in str(e).lower():
            raise StorageError(f"Could not {what} the Iceberg table {table_name}: the disk is full ({e}).") from e
        where = warehouse.metadata_location(table_name) if not isinstance(e, sqlalchemy.exc.SQLAlchemyError) else None
        kind = "missing" if isinstance(e, FileNotFoundError) else "damaged or unreadable"
        subject = f"its metadata {where}" if where else f"the Iceberg catalog {warehouse.root / ICEBERG_CATALOG}"
        raise StorageError(
            f"Could not {what} the Iceberg table {table_name}: a file it needs is {kind} ({type(e).__name__}: "
            f"{_first_line(e)}; {subject}). {DAMAGE_HINT}",
            table=table_name,
            path=where,
        ) from e


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
