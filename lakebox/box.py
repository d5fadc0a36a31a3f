"""The box: one directory that holds a whole lakebox (DESIGN §1).

``Box`` owns the layout, the format version and the box's identity; it knows nothing about
feature groups.

Identity: a box id (a uuid) is written in ``lakebox.toml``, the catalog, the Iceberg catalog
and the LMDB environment; each part checks it on open, so parts of two boxes are never mixed
silently. ``Box.open`` creates a box only at a path that does not exist or is an empty
directory; an existing box (``lakebox.toml`` present) whose catalog is missing or empty, or
whose Iceberg catalog is missing while the catalog lists groups, is damage: a
``StorageError`` says what is missing and how to recover, never a fresh start in place.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lakebox.boxformat import DEFAULT_DIRNAME, FORMAT_VERSION, HOME_VARIABLE, KEYINDEX_DIRNAME, TOML_NAME
from lakebox.catalog.db import CatalogDB
from lakebox.errors import StorageError

log = logging.getLogger(__name__)

ICEBERG_CATALOG = "iceberg_catalog.db"


def default_path() -> Path:
    """``$LAKEBOX_HOME`` if set, else ``./.lakebox``."""
    return Path(os.environ.get(HOME_VARIABLE) or DEFAULT_DIRNAME)


@dataclass(frozen=True)
class Box:
    """Paths of one box directory. ``Box.open(path)`` creates the layout if it is missing."""

    root: Path

    @property
    def toml(self) -> Path:
        return self.root / TOML_NAME

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.db"

    @property
    def iceberg_catalog(self) -> Path:
        """pyiceberg's SqlCatalog database (table name -> current metadata.json)."""
        return self.warehouse / ICEBERG_CATALOG

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def online(self) -> Path:
        return self.root / "online"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def locks(self) -> Path:
        """Cross-process lock files (not data; safe to delete when no process runs)."""
        return self.root / ".locks"

    @property
    def keyindex(self) -> Path:
        """The groups' key indexes (a cache: rebuilt from the tables when missing; not backed up)."""
        return self.root / KEYINDEX_DIRNAME

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = True) -> Box:
        """Open the box at ``path``, creating it where nothing is (a new path or an empty
        directory). Checks that its parts are there and belong together."""
        root = Path(path).expanduser().resolve()
        box = cls(root)
        if root.exists() and not root.is_dir():
            raise StorageError(f"{root} exists and is not a directory; choose another box path.")
        announced = box.toml.exists()
        if not announced and root.exists() and not box._unfinished_creation():
            announced = box.toml.exists()  # another process may have finished creating it meanwhile
            if not announced:
                raise box._not_a_box()
        if announced:
            box._check_format()
            box._check_parts()
        elif not create:
            raise StorageError(f"No box at {root}: run `lakebox init {root}` first.")
        else:
            box._create()
        return box

    def _not_a_box(self) -> StorageError:
        root = self.root
        return StorageError(
            f"{root} is a non-empty directory without {TOML_NAME}: it is not a lakebox box"
            + (
                f" (or it is one whose {TOML_NAME} was lost: restore it from a backup made by `lakebox backup`)"
                if self.catalog_db.exists()
                else ""
            )
            + ". Choose an empty or new directory."
        )

    def _unfinished_creation(self) -> bool:
        """Whether the directory holds nothing but what ``_create`` makes before it writes
        the toml (empty, or another process is creating the box, or a creator died): then
        creating again is safe (the catalog, if any, is kept and its box id adopted)."""
        layout = {self.warehouse, self.online, self.artifacts, self.logs, self.locks}
        for entry in self.root.iterdir():
            if entry.name.startswith(f"{TOML_NAME}.") and entry.name.endswith(".tmp"):
                continue
            if entry.name.startswith("catalog.db"):  # the catalog and its -journal, -wal, -shm
                continue
            if entry not in layout or not entry.is_dir():
                return False
            try:
                if entry != self.locks and any(entry.iterdir()):
                    return False  # data (Iceberg tables, LMDB files, artifacts): a box whose toml was lost
            except FileNotFoundError:
                continue
        return True

    def _create(self) -> None:
        for directory in (self.root, self.warehouse, self.online, self.artifacts, self.logs, self.locks):
            directory.mkdir(parents=True, exist_ok=True)
        # The catalog first, the toml last: a box is announced only once its catalog exists
        # (a toml without a catalog is a damaged box). A concurrent creator's id wins.
        catalog = CatalogDB(self.catalog_db)
        try:
            import uuid  # (with platform) only when a box gets its id

            box_id = catalog.stored_box_id() or catalog.record_box_id(str(uuid.uuid4()))
        finally:
            catalog.close()
        self._write_toml(
            "# lakebox box: everything of this lakehouse lives in this directory.\n"
            f"format_version = {FORMAT_VERSION}\n"
            "# Where the warehouse was created; Iceberg metadata records paths under it, and a\n"
            "# copied or moved box maps them to its current location (never edit this).\n"
            f"warehouse_origin = {_toml_string(self.warehouse.as_uri())}\n" + _box_id_lines(box_id or "")
        )

    def _write_toml(self, text: str) -> None:
        tmp = self.toml.with_name(f"{TOML_NAME}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.toml)  # atomic: a box is either fully announced or not at all

    def _check_parts(self) -> None:
        """The catalog is there and not empty, the ids of the toml and the catalog agree (one
        that has none adopts the other's), and an Iceberg catalog exists if groups do."""
        catalog = CatalogDB(self.catalog_db, create=False)
        try:
            recorded = catalog.stored_box_id()
            own = self.box_id
            import uuid

            box_id = own or recorded or str(uuid.uuid4())
            catalog.adopt_box_id(box_id)  # records it, or refuses another box's catalog
            if own is None:
                log.info("box %s: recording box id %s in %s", self.root, box_id, TOML_NAME)
                self._write_toml(self.toml.read_text().rstrip("\n") + "\n" + _box_id_lines(box_id))
            # groups whose Iceberg table exists (a table is created with the first schema: the
            # first insert or declared features); a group still without data has none yet
            groups = catalog.query(
                "SELECT count(*) FROM feature_groups g WHERE EXISTS (SELECT 1 FROM features f WHERE f.group_id = g.id)"
            )[0][0]
        finally:
            catalog.close()
        if groups and not self.iceberg_catalog.exists():
            raise StorageError(
                f"The box's Iceberg catalog {self.iceberg_catalog} is missing, but the catalog lists {groups} "
                "feature group(s): their offline data cannot be found without it. lakebox will not start an "
                "empty one in its place. Restore the warehouse/ directory from a backup made by `lakebox backup`, "
                "or run `lakebox doctor` to see what else is damaged.",
                path=str(self.iceberg_catalog),
            )

    @property
    def box_id(self) -> str | None:
        """The box's identity (a uuid) from ``lakebox.toml``; None for a box whose toml
        predates it (``Box.open`` adds one)."""
        found = self.settings().get("box_id")
        return found if isinstance(found, str) and found else None

    def settings(self) -> dict[str, object]:
        try:
            return tomllib.loads(self.toml.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise StorageError(
                f"Cannot read {self.toml}: {e}. Restore it from a backup (`lakebox backup`), or run "
                "`lakebox doctor --repair`, which writes it again.", path=str(self.toml)
            ) from e

    @property
    def warehouse_origin(self) -> str:
        """The warehouse URI this box was created with (Iceberg paths are recorded under it)."""
        origin = self.settings().get("warehouse_origin")
        return origin if isinstance(origin, str) else self.warehouse.as_uri()

    def _check_format(self) -> None:
        version = self.settings().get("format_version")
        if not isinstance(version, int):
            raise StorageError(f"{self.toml} has no integer format_version; it is not a lakebox box.")
        if version > FORMAT_VERSION:
            raise StorageError(
                f"The box at {self.root} has format version {version}, newer than this lakebox "
                f"understands ({FORMAT_VERSION}). Upgrade lakebox (pip install -U lakebox) to open it."
            )
        for directory in (self.warehouse, self.online, self.artifacts, self.logs, self.locks):
            directory.mkdir(parents=True, exist_ok=True)


def _box_id_lines(box_id: str) -> str:
    return (
        "# This box's identity, also recorded in its catalog, Iceberg catalog and online store:\n"
        "# parts of different boxes are never mixed (never edit this).\n"
        f"box_id = {_toml_string(box_id)}\n"
    )


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
