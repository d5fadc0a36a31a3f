"""Feature views and training datasets in the SQLite catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox.catalog.db import CatalogDB


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
    columns: dict[str, list[str]]
    statistics: dict[str, Any]
    row_counts: dict[str, int]
    created_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ViewStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    # -- views ----------------------------------------------------------------------------
    def create(
        self, *, name: str, version: int, description: str, query: dict[str, Any], labels: list[str],
        transformations: dict[str, str],
    ) -> ViewRow:
        with self.db.write() as conn:
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

    def names(self) -> list[str]:
        return [r["name"] for r in self.db.query("SELECT DISTINCT name FROM feature_views ORDER BY name")]

    def update_description(self, view_id: int, description: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE feature_views SET description = ? WHERE id = ?", (description, view_id))

    def delete(self, view_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM feature_views WHERE id = ?", (view_id,))

    # -- training datasets ----------------------------------------------------------------
    def next_dataset_version(self, view_id: int) -> int:
        rows = self.db.query("SELECT MAX(version) AS v FROM training_datasets WHERE view_id = ?", (view_id,))
        return int(rows[0]["v"] or 0) + 1

    def create_dataset(self, *, view_id: int, version: int, **values: Any) -> DatasetRow:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO training_datasets (view_id, version, description, data_format, location, spec,"
                " snapshots, transformations, columns, statistics, row_counts, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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

    def get_dataset(self, view_id: int, version: int) -> DatasetRow | None:
        rows = self.db.query("SELECT * FROM training_datasets WHERE view_id = ? AND version = ?", (view_id, version))
        return _dataset(rows[0]) if rows else None

    def datasets(self, view_id: int) -> list[DatasetRow]:
        rows = self.db.query("SELECT * FROM training_datasets WHERE view_id = ? ORDER BY version", (view_id,))
        return [_dataset(r) for r in rows]

    def delete_dataset(self, view_id: int, version: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM training_datasets WHERE view_id = ? AND version = ?", (view_id, version))


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
    )
