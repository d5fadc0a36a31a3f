"""Registered model versions in the SQLite catalog."""

from __future__ import annotations

import builtins
import json
import math
from dataclasses import dataclass
from typing import Any

from lakebox.catalog.db import CatalogDB
from lakebox.catalog.experiments import dumps, now


@dataclass(frozen=True)
class ModelRow:
    id: int
    name: str
    version: int
    description: str
    metrics: dict[str, Any]
    input_example: Any
    training_dataset: dict[str, Any] | None
    experiment_id: int | None
    location: str
    created_at: str


class ModelStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def create(
        self, *, name: str, description: str, metrics: dict[str, Any], input_example: Any,
        training_dataset: dict[str, Any] | None, experiment_id: int | None, version: int | None = None,
    ) -> ModelRow:
        """A new version of model ``name`` (the next free one unless ``version`` is given)."""
        with self.db.write() as conn:
            if version is None:
                version = int(conn.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?", (name,)).fetchone()[0])
            cursor = conn.execute(
                "INSERT INTO models (name, version, description, metrics, input_example, training_dataset,"
                " experiment_id, location, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (name, version, description, dumps(metrics), None if input_example is None else dumps(input_example),
                 None if training_dataset is None else dumps(training_dataset), experiment_id,
                 f"models/{name}/{version}", now()),
            )
            model_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO model_metrics (model_id, name, value) VALUES (?,?,?)",
                [(model_id, k, float(v)) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)],
            )
        found = self.by_id(model_id)
        assert found is not None
        return found

    def exists(self, name: str, version: int) -> bool:
        return bool(self.db.query("SELECT 1 FROM models WHERE name = ? AND version = ?", (name, version)))

    def by_id(self, model_id: int) -> ModelRow | None:
        rows = self.db.query("SELECT * FROM models WHERE id = ?", (model_id,))
        return _model(rows[0]) if rows else None

    def get(self, name: str, version: int | None = None) -> ModelRow | None:
        if version is None:
            rows = self.db.query("SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1", (name,))
        else:
            rows = self.db.query("SELECT * FROM models WHERE name = ? AND version = ?", (name, version))
        return _model(rows[0]) if rows else None

    def list(self, name: str | None = None) -> list[ModelRow]:
        if name is None:
            rows = self.db.query("SELECT * FROM models ORDER BY name, version")
        else:
            rows = self.db.query("SELECT * FROM models WHERE name = ? ORDER BY version", (name,))
        return [_model(r) for r in rows]

    def names(self) -> builtins.list[str]:
        return [r["name"] for r in self.db.query("SELECT DISTINCT name FROM models ORDER BY name")]

    def versions(self, name: str) -> builtins.list[int]:
        return [r["version"] for r in self.db.query("SELECT version FROM models WHERE name = ? ORDER BY version", (name,))]

    def metric_names(self, name: str) -> builtins.list[str]:
        rows = self.db.query(
            "SELECT DISTINCT mm.name FROM model_metrics mm JOIN models m ON m.id = mm.model_id WHERE m.name = ?"
            " ORDER BY mm.name", (name,))
        return [r["name"] for r in rows]

    def best(self, name: str, metric: str, direction: str) -> ModelRow | None:
        """The version with the best value of ``metric`` (ties: the newest version)."""
        order = "DESC" if direction == "max" else "ASC"
        rows = self.db.query(
            "SELECT m.* FROM models m JOIN model_metrics mm ON mm.model_id = m.id WHERE m.name = ? AND mm.name = ?"
            f" ORDER BY mm.value {order}, m.version DESC LIMIT 1",
            (name, metric),
        )
        return _model(rows[0]) if rows else None

    def update_description(self, model_id: int, description: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE models SET description = ? WHERE id = ?", (description, model_id))

    def delete(self, model_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))


def _model(row: Any) -> ModelRow:
    return ModelRow(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        description=row["description"],
        metrics=json.loads(row["metrics"]),
        input_example=json.loads(row["input_example"]) if row["input_example"] is not None else None,
        training_dataset=json.loads(row["training_dataset"]) if row["training_dataset"] is not None else None,
        experiment_id=row["experiment_id"],
        location=row["location"],
        created_at=row["created_at"],
    )
