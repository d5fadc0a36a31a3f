"""Drift monitors, their runs and results, and catalog events (migration 015)."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox.catalog.db import CatalogDB


@dataclass(frozen=True)
class MonitorRow:
    id: int
    name: str
    description: str
    source_kind: str
    source_name: str
    source_version: int | None
    feature_view: str
    feature_view_version: int
    training_dataset_version: int
    features: list[str]
    window_s: float
    metrics: list[str]
    thresholds: dict[str, float]
    created_at: str


@dataclass(frozen=True)
class RunRow:
    id: int
    monitor_id: int
    run_at: str
    window_start: str
    window_end: str
    rows: int
    alert: bool
    results: list[dict[str, Any]]


@dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    asset_kind: str
    asset_name: str
    message: str
    details: dict[str, Any]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "asset_kind": self.asset_kind, "asset_name": self.asset_name,
            "message": self.message, "details": self.details, "created_at": self.created_at,
        }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MonitorStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def create(
        self, *, name: str, description: str, source_kind: str, source_name: str, source_version: int | None,
        feature_view: str, feature_view_version: int, training_dataset_version: int, features: list[str],
        window_s: float, metrics: list[str], thresholds: dict[str, float],
    ) -> MonitorRow:
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO monitors (name, description, source_kind, source_name, source_version, feature_view,"
                " feature_view_version, training_dataset_version, features, window_s, metrics, thresholds, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, description, source_kind, source_name, source_version, feature_view, feature_view_version,
                 training_dataset_version, json.dumps(features), window_s, json.dumps(metrics), json.dumps(thresholds),
                 now()),
            )  # fmt: skip
            row_id = int(cursor.lastrowid or 0)
        found = self.by_id(row_id)
        assert found is not None
        return found

    def by_id(self, row_id: int) -> MonitorRow | None:
        rows = self.db.query("SELECT * FROM monitors WHERE id = ?", (row_id,))
        return _monitor(rows[0]) if rows else None

    def get(self, name: str) -> MonitorRow | None:
        rows = self.db.query("SELECT * FROM monitors WHERE name = ?", (name,))
        return _monitor(rows[0]) if rows else None

    def list(self) -> list[MonitorRow]:
        return [_monitor(r) for r in self.db.query("SELECT * FROM monitors ORDER BY name")]

    def names(self) -> builtins.list[str]:
        return [r["name"] for r in self.db.query("SELECT name FROM monitors ORDER BY name")]

    def delete(self, row_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM monitors WHERE id = ?", (row_id,))

    # -- runs -----------------------------------------------------------------------------
    def record_run(
        self, monitor: MonitorRow, window_start: str, window_end: str, rows: int, results: builtins.list[dict[str, Any]],
        event: tuple[str, dict[str, Any]] | None,
    ) -> RunRow:
        """One run, its results, and (when it alerted) its event, in one transaction."""
        alert = any(r["alert"] for r in results)
        at = now()
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO monitor_runs (monitor_id, run_at, window_start, window_end, rows, alert) VALUES (?,?,?,?,?,?)",
                (monitor.id, at, window_start, window_end, rows, int(alert)),
            )
            run_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO monitor_results (run_id, feature, metric, score, threshold, alert) VALUES (?,?,?,?,?,?)",
                [(run_id, r["feature"], r["metric"], r["score"], r["threshold"], int(r["alert"])) for r in results],
            )
            if event is not None:
                message, details = event
                conn.execute(
                    "INSERT INTO catalog_events (kind, asset_kind, asset_name, message, details, created_at)"
                    " VALUES ('drift_alert', 'monitor', ?, ?, ?, ?)",
                    (monitor.name, message, json.dumps({**details, "run_id": run_id}, default=str), at),
                )
        return RunRow(run_id, monitor.id, at, window_start, window_end, rows, alert, results)

    def runs(self, monitor_id: int, limit: int | None = None) -> builtins.list[RunRow]:
        """Runs of a monitor, newest first, with their results."""
        runs = self.db.query(
            "SELECT * FROM monitor_runs WHERE monitor_id = ? ORDER BY id DESC LIMIT ?", (monitor_id, limit or -1)
        )
        out = []
        for run in runs:
            results = self.db.query(
                "SELECT feature, metric, score, threshold, alert FROM monitor_results WHERE run_id = ?"
                " ORDER BY feature, metric", (run["id"],))  # fmt: skip
            out.append(RunRow(
                run["id"], run["monitor_id"], run["run_at"], run["window_start"], run["window_end"], run["rows"],
                bool(run["alert"]),
                [{"feature": r["feature"], "metric": r["metric"], "score": r["score"], "threshold": r["threshold"],
                  "alert": bool(r["alert"])} for r in results],
            ))  # fmt: skip
        return out

    def events(self, kind: str | None = None, asset_name: str | None = None, limit: int = 50) -> builtins.list[EventRow]:
        rows = self.db.query(
            "SELECT * FROM catalog_events WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR asset_name = ?)"
            " ORDER BY id DESC LIMIT ?",
            (kind, kind, asset_name, asset_name, limit),
        )
        return [
            EventRow(r["id"], r["kind"], r["asset_kind"], r["asset_name"], r["message"], json.loads(r["details"]),
                     r["created_at"])
            for r in rows
        ]  # fmt: skip


def _monitor(row: Any) -> MonitorRow:
    return MonitorRow(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        source_kind=row["source_kind"],
        source_name=row["source_name"],
        source_version=row["source_version"],
        feature_view=row["feature_view"],
        feature_view_version=row["feature_view_version"],
        training_dataset_version=row["training_dataset_version"],
        features=list(json.loads(row["features"])),
        window_s=float(row["window_s"]),
        metrics=list(json.loads(row["metrics"])),
        thresholds={k: float(v) for k, v in json.loads(row["thresholds"]).items()},
        created_at=row["created_at"],
    )
