"""Feature views and training datasets in the SQLite catalog.

A training dataset row goes through states: ``pending`` (reserved by a creator that is still
writing its files and pins), ``ready`` (complete: the only state readers see), ``deleting``
(its files and pins are being removed). A row that is not ready carries its owner (pid and
host), so a row whose owner died can be recognised and undone (``lakebox/write/datasets.py``).

Every ``sqlite3`` error is turned into a ``LakeboxError`` here: a taken name and version is an
``AlreadyExistsError``, a concurrent change (a busy database, a view deleted meanwhile) a
``ConflictError``, anything else a ``StorageError``.
"""

from __future__ import annotations

import builtins
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox import jsonpolicy
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.owners import alive
from lakebox.errors import AlreadyExistsError, ConflictError, LakeboxError, StorageError

PENDING, READY, DELETING = "pending", "ready", "deleting"


@dataclass(frozen=True)
class ViewRow:
    id: int
    name: str
    version: int
    description: str
    query: dict[str, Any]
    labels: list[str]
    transformations: dict[str, str]
    created_at: str


@dataclass(frozen=True)
class DatasetRow:
    id: int
    view_id: int
    version: int
    description: str
    data_format: str
    location: str
    spec: dict[str, Any]
    snapshots: list[dict[str, Any]]
    transformations: dict[str, Any]
    columns: dict[str, Any]
    statistics: dict[str, Any]
    row_counts: dict[str, int]
    created_at: str
    state: str = READY
    owner_pid: int | None = None
    owner_host: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def _catalog_errors(what: str, exists: str | None = None) -> Iterator[None]:
    """Translate ``sqlite3`` errors raised while doing ``what`` into ``LakeboxError``s;
    ``exists`` is the message of a UNIQUE violation (the thing already exists)."""
    try:
        yield
    except sqlite3.Error as e:
        text = str(e)
        if isinstance(e, sqlite3.IntegrityError) and exists is not None and "unique" in text.lower():
            raise AlreadyExistsError(exists) from e
        if isinstance(e, LakeboxError):  # already translated by the catalog (CatalogDB)
            raise
        if isinstance(e, sqlite3.IntegrityError):
            if "FOREIGN KEY" in text:
                raise ConflictError(
                    f"Could not {what}: an asset it refers to was deleted meanwhile by another caller. Reload and retry."
                ) from e
            raise ConflictError(f"Could not {what}: it conflicts with the catalog's current content ({text}). Retry.") from e
        if "locked" in text or "busy" in text:
            raise ConflictError(f"Could not {what}: the catalog is busy with another writer ({text}). Retry.") from e
        raise StorageError(f"Could not {what}: the catalog failed ({text}).") from e


class ViewStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    @contextmanager
    def _write(self, what: str, exists: str | None = None) -> Iterator[sqlite3.Connection]:
        with _catalog_errors(what, exists), self.db.write() as conn:
            yield conn

    # -- views ----------------------------------------------------------------------------
    def create(
        self, *, name: str, version: int, description: str, query: dict[str, Any], labels: list[str],
        transformations: dict[str, str],
    ) -> ViewRow:
        exists = (
            f"Feature view {name} v{version} already exists. Get it with fs.get_feature_view({name!r}, {version}) "
            "or create another version."
        )
        with self._write(f"create feature view {name} v{version}", exists) as conn:
            cursor = conn.execute(
                "INSERT INTO feature_views (name, version, description, query, labels, transformations, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (name, version, description, json.dumps(query), json.dumps(labels), json.dumps(transformations), _now()),
            )
            view_id = int(cursor.lastrowid or 0)
        found = self.get_by_id(view_id)
        assert found is not None
        return found

    def get(self, name: str, version: int) -> ViewRow | None:
        rows = self.db.query("SELECT * FROM feature_views WHERE name = ? AND version = ?", (name, version))
        return _view(rows[0]) if rows else None

    def get_by_id(self, view_id: int) -> ViewRow | None:
        rows = self.db.query("SELECT * FROM feature_views WHERE id = ?", (view_id,))
        return _view(rows[0]) if rows else None

    def latest_version(self, name: str) -> int | None:
        rows = self.db.query("SELECT MAX(version) AS v FROM feature_views WHERE name = ?", (name,))
        return rows[0]["v"] if rows and rows[0]["v"] is not None else None

    def list(self, name: str | None = None) -> list[ViewRow]:
        if name is None:
            rows = self.db.query("SELECT * FROM feature_views ORDER BY name, version")
        else:
            rows = self.db.query("SELECT * FROM feature_views WHERE name = ? ORDER BY version", (name,))
        return [_view(r) for r in rows]

    def names(self) -> builtins.list[str]:
        return [r["name"] for r in self.db.query("SELECT DISTINCT name FROM feature_views ORDER BY name")]

    def update_description(self, view_id: int, description: str) -> None:
        with self._write("update the feature view's description") as conn:
            conn.execute("UPDATE feature_views SET description = ? WHERE id = ?", (description, view_id))

    def delete(self, view_id: int) -> None:
        with self._write("delete the feature view") as conn:
            conn.execute("DELETE FROM feature_views WHERE id = ?", (view_id,))

    # -- training datasets: readers see ready rows only -------------------------------------
    def next_dataset_version(self, view_id: int) -> int:
        """The version the next reservation would get (rows in every state count)."""
        rows = self.db.query("SELECT MAX(version) AS v FROM training_datasets WHERE view_id = ?", (view_id,))
        return int(rows[0]["v"] or 0) + 1

    def get_dataset(self, view_id: int, version: int) -> DatasetRow | None:
        rows = self.db.query(
            "SELECT * FROM training_datasets WHERE view_id = ? AND version = ? AND state = 'ready'", (view_id, version)
        )
        return _dataset(rows[0]) if rows else None

    def datasets(self, view_id: int) -> builtins.list[DatasetRow]:
        rows = self.db.query(
            "SELECT * FROM training_datasets WHERE view_id = ? AND state = 'ready' ORDER BY version", (view_id,)
        )
        return [_dataset(r) for r in rows]

    def delete_dataset(self, view_id: int, version: int) -> None:
        """Delete a ready dataset's row (its files and pins are the caller's; see
        ``lakebox.write.datasets.drop`` for the crash-safe sequence)."""
        with self._write(f"delete training dataset v{version}") as conn:
            conn.execute(
                "DELETE FROM training_datasets WHERE view_id = ? AND version = ? AND state = 'ready'", (view_id, version)
            )

    def create_dataset(self, *, view_id: int, version: int, **values: Any) -> DatasetRow:
        """Insert a ready dataset row directly (no reservation; for imports and tests)."""
        exists = f"Training dataset v{version} of this feature view already exists; create the next version."
        with self._write(f"record training dataset v{version}", exists) as conn:
            conn.execute(
                "INSERT INTO training_datasets (view_id, version, description, data_format, location, spec,"
                " snapshots, transformations, columns, statistics, row_counts, created_at, state)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'ready')",
                (
                    view_id,
                    version,
                    values.get("description", ""),
                    values["data_format"],
                    values["location"],
                    json.dumps(values["spec"]),
                    json.dumps(values["snapshots"]),
                    json.dumps(values["transformations"]),
                    json.dumps(values["columns"]),
                    json.dumps(values.get("statistics", {})),
                    json.dumps(values.get("row_counts", {})),
                    _now(),
                ),
            )
        found = self.get_dataset(view_id, version)
        assert found is not None
        return found

    # -- training datasets: the reservation protocol ----------------------------------------
    def reserve_dataset(
        self,
        view_id: int,
        *,
        location_of: Callable[[int], str],
        data_format: str,
        description: str,
        spec: dict[str, Any],
        snapshots: builtins.list[dict[str, Any]],
        transformations: dict[str, Any],
    ) -> DatasetRow:
        """A ``pending`` row owned by this process, with the next free version, chosen and
        inserted in one write transaction: concurrent creators never share a version."""
        with self._write("reserve a training dataset version") as conn:
            version = int(
                conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM training_datasets WHERE view_id = ?", (view_id,)
                ).fetchone()[0]
            )
            cursor = conn.execute(
                "INSERT INTO training_datasets (view_id, version, description, data_format, location, spec,"
                " snapshots, transformations, columns, statistics, row_counts, created_at, state, owner_pid,"
                " owner_host) VALUES (?,?,?,?,?,?,?,?,'{}','{}','{}',?,'pending',?,?)",
                (
                    view_id, version, description, data_format, location_of(version), json.dumps(spec),
                    json.dumps(snapshots), json.dumps(transformations), _now(), os.getpid(), socket.gethostname(),
                ),
            )
            dataset_id = int(cursor.lastrowid or 0)
        found = self._by_id(dataset_id)
        assert found is not None
        return found

    def complete_dataset(
        self,
        dataset_id: int,
        *,
        columns: dict[str, Any],
        statistics: dict[str, Any],
        row_counts: dict[str, int],
        upstream: Sequence[tuple[int, str, dict[str, Any]]] = (),
    ) -> DatasetRow:
        """Mark a pending row of this process ready, in one transaction with its lineage
        (``upstream``: ``(source asset id, relation, details)`` edges into the dataset)."""
        with self._write("mark the training dataset ready") as conn:
            cursor = conn.execute(
                "UPDATE training_datasets SET state = 'ready', columns = ?, statistics = ?, row_counts = ?,"
                " owner_pid = NULL, owner_host = NULL WHERE id = ? AND state = 'pending' AND owner_pid = ?"
                " AND owner_host = ?",
                (json.dumps(columns), json.dumps(statistics), json.dumps(row_counts), dataset_id, os.getpid(),
                 socket.gethostname()),
            )
            if cursor.rowcount != 1:
                raise ConflictError(
                    "The training dataset's reservation was removed while it was being written (its feature "
                    "view was deleted meanwhile?); nothing was kept. Retry."
                )
            asset = conn.execute(
                "SELECT id FROM assets WHERE kind = 'training_dataset' AND ref_id = ?", (dataset_id,)
            ).fetchone()
            for src, relation, details in upstream if asset is not None else ():
                conn.execute(
                    "INSERT INTO lineage (src, dst, relation, details) VALUES (?,?,?,?)"
                    " ON CONFLICT (src, dst, relation) DO UPDATE SET details = excluded.details",
                    (src, asset["id"], relation, jsonpolicy.dumps(details)),
                )
        found = self._by_id(dataset_id)
        assert found is not None
        return found

    def begin_delete(self, dataset_id: int) -> DatasetRow | None:
        """Take a ready row out of readers' sight (state ``deleting``, owned by this process)
        before its files and pins are removed; None if it is not ready (gone, or another
        caller is deleting it)."""
        with self._write("delete the training dataset") as conn:
            cursor = conn.execute(
                "UPDATE training_datasets SET state = 'deleting', owner_pid = ?, owner_host = ?"
                " WHERE id = ? AND state = 'ready'",
                (os.getpid(), socket.gethostname(), dataset_id),
            )
            changed = cursor.rowcount == 1
        return self._by_id(dataset_id) if changed else None

    def discard_dataset(self, dataset_id: int) -> None:
        """Remove a row that is not ready (after its files and pins were removed)."""
        with self._write("discard the unfinished training dataset") as conn:
            conn.execute("DELETE FROM training_datasets WHERE id = ? AND state <> 'ready'", (dataset_id,))

    def orphaned_datasets(self, view_id: int, in_flight: Collection[int] = ()) -> builtins.list[DatasetRow]:
        """Rows that are not ready and whose owner on this host is gone (a killed creator or
        deleter), or is this process but no longer working on them (ids not in ``in_flight``).
        Rows owned by another host are left alone: their owner cannot be checked."""
        rows = self.db.query(
            "SELECT * FROM training_datasets WHERE view_id = ? AND state <> 'ready' AND owner_host = ?",
            (view_id, socket.gethostname()),
        )
        found = []
        for row in rows:
            pid = row["owner_pid"]
            if pid is None or (pid == os.getpid() and row["id"] not in in_flight) or (pid != os.getpid() and not alive(pid)):
                found.append(_dataset(row))
        return found

    def claim_orphan(self, dataset: DatasetRow) -> bool:
        """Make this process the owner of an orphaned row (compare-and-set on its old owner),
        so that two cleaners never undo the same row at once. False if someone else did."""
        with self._write("claim an unfinished training dataset") as conn:
            cursor = conn.execute(
                "UPDATE training_datasets SET state = 'deleting', owner_pid = ?, owner_host = ?"
                " WHERE id = ? AND state <> 'ready' AND owner_pid IS ? AND owner_host IS ?",
                (os.getpid(), socket.gethostname(), dataset.id, dataset.owner_pid, dataset.owner_host),
            )
            return cursor.rowcount == 1

    def _by_id(self, dataset_id: int) -> DatasetRow | None:
        rows = self.db.query("SELECT * FROM training_datasets WHERE id = ?", (dataset_id,))
        return _dataset(rows[0]) if rows else None




def _view(row: Any) -> ViewRow:
    return ViewRow(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        description=row["description"],
        query=json.loads(row["query"]),
        labels=json.loads(row["labels"]),
        transformations=json.loads(row["transformations"]),
        created_at=row["created_at"],
    )


def _dataset(row: Any) -> DatasetRow:
    return DatasetRow(
        id=row["id"],
        view_id=row["view_id"],
        version=row["version"],
        description=row["description"],
        data_format=row["data_format"],
        location=row["location"],
        spec=json.loads(row["spec"]),
        snapshots=json.loads(row["snapshots"]),
        transformations=json.loads(row["transformations"]),
        columns=json.loads(row["columns"]),
        statistics=json.loads(row["statistics"]),
        row_counts=json.loads(row["row_counts"]),
        created_at=row["created_at"],
        state=row["state"],
        owner_pid=row["owner_pid"],
        owner_host=row["owner_host"],
    )
