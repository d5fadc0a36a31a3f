"""The Iceberg warehouse of a box: pyiceberg's SQLite-backed SqlCatalog (DESIGN §1)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.io import PY_IO_IMPL
from pyiceberg.table import Table

from lakebox.errors import AlreadyExistsError, NotFoundError, StorageError
from lakebox.offline.fileio import CURRENT, ORIGIN

log = logging.getLogger(__name__)

NAMESPACE = "lakebox"

# Old metadata.json files are not needed for time travel (snapshots live in the current
# metadata); keep a few for forensics and let pyiceberg delete the rest after each commit.
TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    "write.parquet.compression-codec": "zstd",
    # Measured in Arrow memory, not on disk (~5x smaller after compression). 64 MiB splits a
    # 1M x 12 batch into two files that pyiceberg writes in parallel threads.
    "write.target-file-size-bytes": str(64 * 1024 * 1024),
}


class Warehouse:
    """Creates, loads and drops the Iceberg tables under ``box/warehouse``."""

    def __init__(self, root: Path, origin: str | None = None) -> None:
        self.root = root
        self.origin = origin or root.as_uri()
        self._catalog: SqlCatalog | None = None
        self._pid = -1

    @property
    def catalog(self) -> SqlCatalog:
        if self._catalog is None or self._pid != os.getpid():  # never reuse engines across fork
            try:
                self._catalog = SqlCatalog(
                    "lakebox",
                    uri=f"sqlite:///{self.root / 'iceberg_catalog.db'}",
                    warehouse=self.root.as_uri(),
                    **{
                        PY_IO_IMPL: "lakebox.offline.fileio.BoxFileIO",
                        ORIGIN: self.origin,
                        CURRENT: self.root.as_uri(),
                    },
                )
                self._catalog.create_namespace_if_not_exists(NAMESPACE)
            except Exception as e:  # sqlalchemy / pyiceberg errors vary by version
                raise StorageError(f"Cannot open the Iceberg catalog in {self.root}: {e}") from e
            self._pid = os.getpid()
        return self._catalog

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
        try:
            return self.catalog.load_table(self.identifier(table_name))
        except NoSuchTableError as e:
            raise NotFoundError(
                f"The Iceberg table {table_name} is missing from the warehouse; the box is damaged "
                "or the group was deleted by another process."
            ) from e

    def exists(self, table_name: str) -> bool:
        return bool(self.catalog.table_exists(self.identifier(table_name)))

    def drop(self, table_name: str) -> None:
        try:
            self.catalog.drop_table(self.identifier(table_name))
        except NoSuchTableError:
            pass
        shutil.rmtree(self.location(table_name), ignore_errors=True)
