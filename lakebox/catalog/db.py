"""One SQLite connection per process, in WAL mode, with numbered migrations from ``sql/``.

One writer per database inside a process (a lock around every write transaction); other
processes are serialised by SQLite itself with a busy timeout. A connection is never reused
after ``fork``: a child opens its own.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lakebox.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0
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
    """The box's ``catalog.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._migrate()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            try:
                conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, never corrupt
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as e:
                raise StorageError(f"Cannot open the catalog {self.path}: {e}") from e
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _migrate(self) -> None:
        with self._lock:
            conn = self._connection()
            current = conn.execute("PRAGMA user_version").fetchone()[0]
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
                    conn.execute("ROLLBACK")
                    raise StorageError(f"Catalog migration {path.name} failed: {e}") from e

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise StorageError(f"The catalog is locked or unwritable: {e}") from e
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise StorageError(f"Catalog query failed: {e}") from e

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


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
