"""Model deployments in the SQLite catalog (migration 014)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox.catalog.db import CatalogDB


@dataclass(frozen=True)
class DeploymentRow:
    id: int
    name: str
    description: str
    model_name: str
    model_version: int
    traffic: dict[int, float]
    predictor: str | None
    serving_keys: list[str]
    feature_view: str
    feature_view_version: int
    training_dataset_version: int
    features: list[tuple[str, str]]
    log_group: str | None
    generation: int
    created_at: str
    updated_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeploymentStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def create(
        self, *, name: str, description: str, model_name: str, model_version: int, predictor: str | None,
        serving_keys: list[str], feature_view: str, feature_view_version: int, training_dataset_version: int,
        features: list[tuple[str, str]], log_group: str | None,
    ) -> DeploymentRow:
        now = _now()
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO deployments (name, description, model_name, model_version, traffic, predictor,"
                " serving_keys, feature_view, feature_view_version, training_dataset_version, features, log_group,"
                " generation, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)",
                (name, description, model_name, model_version, "{}", predictor, json.dumps(serving_keys),
                 feature_view, feature_view_version, training_dataset_version, json.dumps(features), log_group,
                 now, now),
            )
            row_id = int(cursor.lastrowid or 0)
        found = self.by_id(row_id)
        assert found is not None
        return found

    def by_id(self, row_id: int) -> DeploymentRow | None:
        rows = self.db.query("SELECT * FROM deployments WHERE id = ?", (row_id,))
        return _row(rows[0]) if rows else None

    def get(self, name: str) -> DeploymentRow | None:
        rows = self.db.query("SELECT * FROM deployments WHERE name = ?", (name,))
        return _row(rows[0]) if rows else None

    def list(self) -> list[DeploymentRow]:
        return [_row(r) for r in self.db.query("SELECT * FROM deployments ORDER BY name")]

    def names(self) -> builtins.list[str]:
        return [r["name"] for r in self.db.query("SELECT name FROM deployments ORDER BY name")]

    def generation(self, row_id: int) -> int | None:
        """The row's change counter (one indexed read: what a server checks per request)."""
        rows = self.db.query("SELECT generation FROM deployments WHERE id = ?", (row_id,))
        return int(rows[0]["generation"]) if rows else None

    def set_routing(self, row_id: int, model_version: int, traffic: Mapping[int, float]) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE deployments SET model_version = ?, traffic = ?, generation = generation + 1, updated_at = ?"
                " WHERE id = ?",
                (model_version, json.dumps({str(k): v for k, v in traffic.items()}), _now(), row_id),
            )

    def set_description(self, row_id: int, description: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE deployments SET description = ?, generation = generation + 1, updated_at = ? WHERE id = ?",
                (description, _now(), row_id),
            )

    def delete(self, row_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM deployments WHERE id = ?", (row_id,))


def _row(row: Any) -> DeploymentRow:
    return DeploymentRow(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        traffic={int(k): float(v) for k, v in json.loads(row["traffic"]).items()},
        predictor=row["predictor"],
        serving_keys=list(json.loads(row["serving_keys"])),
        feature_view=row["feature_view"],
        feature_view_version=row["feature_view_version"],
        training_dataset_version=row["training_dataset_version"],
        features=[(str(n), str(t)) for n, t in json.loads(row["features"])],
        log_group=row["log_group"],
        generation=row["generation"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
