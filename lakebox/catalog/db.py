"""One SQLite connection per process, in WAL mode, with numbered migrations from ``sql/``.

One writer per database inside a process (a lock around every write transaction); other
processes are serialised by SQLite itself with a busy timeout. A connection is never reused
after ``fork``: a child opens its own.

Every ``sqlite3`` error leaving this module, also one raised by ``conn.execute`` inside a
``write()`` block, is a ``LakeboxError``: a UNIQUE violation is an ``AlreadyExistsError``,
other constraint failures and a busy catalog a ``ConflictError``, a damaged file a
``StorageError`` naming the file and the way back (``lakebox doctor``, a backup). The
translated classes are also ``sqlite3`` errors, so catalog code that catches, say,
``sqlite3.IntegrityError`` to word its own message keeps working.

The catalog records the box id (table ``box_meta``, migration 009); ``CatalogDB(path,
box_id=...)`` checks it (a catalog from another box is refused) and ``create=False`` refuses
a missing or empty catalog instead of making a new one in place.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from lakebox.boxformat import BUSY_TIMEOUT_S
from lakebox.errors import AlreadyExistsError, ConflictError, LakeboxError, StorageError

log = logging.getLogger(__name__)

RECOVER_HINT = (
    "Restore catalog.db from a backup made by `lakebox backup` (`lakebox doctor --repair` "
    "restores the newest one it finds), or run `lakebox doctor` to see what else is damaged."
)


class CatalogExistsError(AlreadyExistsError, sqlite3.IntegrityError):
    """A UNIQUE constraint of the catalog: the thing exists already."""


class CatalogConflictError(ConflictError, sqlite3.IntegrityError):
    """Another constraint of the catalog (a row referred to was deleted meanwhile, ...)."""


class CatalogBusyError(ConflictError, sqlite3.OperationalError):
    """Another process held the catalog's write lock for longer than the busy timeout."""


class CatalogStorageError(StorageError, sqlite3.DatabaseError):
    """The catalog file is damaged, missing, unreadable or the disk is full."""


def translate(error: sqlite3.Error, path: Path, what: str = "use the catalog") -> LakeboxError:
    """The ``LakeboxError`` for a ``sqlite3`` error raised while doing ``what`` on ``path``."""
    if isinstance(error, LakeboxError):
        return error
    text = str(error)
    lowered = text.lower()
    if isinstance(error, sqlite3.IntegrityError):
        if "unique" in lowered or "primary key" in lowered:
            return CatalogExistsError(f"Could not {what}: it already exists in the catalog ({text}).")
        if "foreign key" in lowered:
            return CatalogConflictError(
                f"Could not {what}: an asset it refers to was deleted meanwhile by another caller ({text}). "
                "Reload and retry."
            )
        return CatalogConflictError(f"Could not {what}: it conflicts with the catalog's content ({text}).")
    if "locked" in lowered or "busy" in lowered:
        return CatalogBusyError(
            f"Could not {what}: the catalog {path} is busy (locked by another writer for more than "
            f"{BUSY_TIMEOUT_S:.0f} s: {text}). Retry when the other process is done.",
            path=str(path),
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return CatalogStorageError(f"The catalog {path} is damaged ({text}). {RECOVER_HINT}", path=str(path))
    if "full" in lowered:
        return CatalogStorageError(
            f"Could not {what}: the disk holding {path} is full ({text}). Free space and retry.", path=str(path)
        )
    if "readonly" in lowered or "read-only" in lowered:
        return CatalogStorageError(
            f"Could not {what}: the catalog {path} is read-only ({text}). Open the box where it can be written.",
            path=str(path),
        )
    if "unable to open" in lowered or "disk i/o" in lowered:
        return CatalogStorageError(
            f"Could not {what}: the catalog {path} cannot be read or written ({text}). Check that the file "
            f"and its directory exist and are accessible; if it was lost: {RECOVER_HINT}",
            path=str(path),
        )
    return CatalogStorageError(f"Could not {what}: the catalog {path} failed ({text}).", path=str(path))


_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def sql_dir() -> Path:
    """The migration folder: packaged as ``lakebox/_sql`` in a wheel, ``sql/`` in a checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sql"


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(sql_dir().glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    if not found:
        raise StorageError(f"No catalog migrations found in {sql_dir()}; the installation is broken.")
    return found


class CatalogDB:
    """The box's ``catalog.db``.

    ``create=False``: the catalog must exist and hold lakebox's tables (an existing box whose
    catalog is lost is damage, never a fresh start). ``box_id``: the catalog must record this
    box id (one that records none, new or from an older lakebox, adopts it).
    """

    def __init__(self, path: Path, box_id: str | None = None, create: bool = True) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        if not create:
            self._check_present()
        self._migrate()
        self.box_id = self.adopt_box_id(box_id) if box_id is not None else None

    def _check_present(self) -> None:
        if not self.path.exists():
            raise CatalogStorageError(
                f"The box's catalog {self.path} is missing (the box's other files are there). "
                f"It holds every group, view, model and commit record, so lakebox will not make an empty "
                f"one in its place. {RECOVER_HINT}",
                path=str(self.path),
            )
        try:
            with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)) as conn:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        except sqlite3.Error as e:
            raise translate(e, self.path, "open the catalog") from e
        if not tables:
            raise CatalogStorageError(
                f"The box's catalog {self.path} is empty ({self.path.stat().st_size} bytes, no tables): it was "
                f"truncated or replaced. lakebox will not start a new catalog in its place. {RECOVER_HINT}",
                path=str(self.path),
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, never corrupt
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as e:
                raise translate(e, self.path, "open the catalog") from e
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _migrate(self) -> None:
        with self._lock:
            conn = self._connection()
            try:
                current = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error as e:
                raise translate(e, self.path, "open the catalog") from e
            known = migrations()
            newest = known[-1][0]
            if current > newest:
                raise StorageError(
                    f"The catalog {self.path} is at schema {current}, newer than this lakebox knows "
                    f"({newest}). Upgrade lakebox to open this box."
                )
            for number, path in known:
                if number <= current:
                    continue
                log.info("applying catalog migration %s", path.name)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    # re-check inside the write lock: another process may have migrated meanwhile
                    if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                        conn.execute("ROLLBACK")
                        continue
                    for statement in _split_statements(path.read_text()):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(number)}")
                    conn.execute("COMMIT")
                except sqlite3.Error as e:
                    _rollback(conn)
                    raise translate(e, self.path, f"apply catalog migration {path.name}") from e

    def adopt_box_id(self, box_id: str) -> str:
        """Record ``box_id`` if the catalog has none; refuse a catalog of another box."""
        found = self.stored_box_id() or self.record_box_id(box_id)  # no write lock once it has one
        if found != box_id:
            raise StorageError(
                f"The catalog {self.path} belongs to another box (box id {found}; this box's lakebox.toml says "
                f"{box_id}): it was copied in from elsewhere. Put the box's own catalog back. {RECOVER_HINT}",
                path=str(self.path),
                catalog_box_id=found,
                box_id=box_id,
            )
        return found

    def record_box_id(self, candidate: str) -> str:
        """Record ``candidate`` as the box id unless one is recorded; returns the recorded one
        (a concurrent creator's may have won)."""
        with self.write() as conn:
            conn.execute("INSERT OR IGNORE INTO box_meta (key, value) VALUES ('box_id', ?)", (candidate,))
            return str(conn.execute("SELECT value FROM box_meta WHERE key = 'box_id'").fetchone()[0])

    def stored_box_id(self) -> str | None:
        """The box id the catalog records (None: none yet)."""
        rows = self.query("SELECT value FROM box_meta WHERE key = 'box_id'")
        return str(rows[0][0]) if rows else None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing. A ``sqlite3`` error raised
        inside the block leaves it as a ``LakeboxError`` (see the module doc)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise translate(e, self.path, "start a catalog write") from e
            try:
                yield conn
            except sqlite3.Error as e:
                _rollback(conn)
                raise translate(e, self.path, "write to the catalog") from e
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                _rollback(conn)
                raise translate(e, self.path, "commit to the catalog") from e

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise translate(e, self.path, "read the catalog") from e

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open (SQLite ends some on its own, e.g. on a full disk)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as e:
        log.warning("catalog rollback failed: %s", e)


def _split_statements(script: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` understands the
    ``BEGIN ... END;`` bodies of triggers)."""
    statements, buffer = [], []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        buffer.append(line)
        if sqlite3.complete_statement("\n".join(buffer)):
            statement = "\n".join(buffer).strip()
            if statement.rstrip(";").strip():
                statements.append(statement)
            buffer = []
    tail = "\n".join(buffer).strip()
    if tail:
        statements.append(tail)
    return statements
