"""Experiment runs (of ``experiment.lagom``) and their trials in the SQLite catalog."""

from __future__ import annotations

import builtins
import json
import math
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox.catalog.db import CatalogDB
from lakebox.catalog.owners import alive


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    """Strict JSON (SQLite's json functions reject NaN): non-finite numbers become null."""
    return json.dumps(_finite(value), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    run: int
    kind: str
    status: str
    description: str
    function: str
    config: dict[str, Any]
    hparams: dict[str, Any]
    metrics: dict[str, Any]
    metric: str | None
    direction: str | None
    best_value: float | None
    files: dict[str, str]
    environment: dict[str, Any]
    error: str | None
    location: str
    started_at: str
    finished_at: str | None
    duration_s: float | None


@dataclass(frozen=True)
class TrialRow:
    trial: int
    hparams: dict[str, Any]
    status: str
    metrics: dict[str, Any]
    value: float | None
    steps: list[list[float]]
    files: dict[str, str]
    outputs: dict[str, Any]
    attempts: int
    worker: int | None
    error: str | None
    started_at: str
    duration_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ExperimentStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def create(
        self, *, name: str, kind: str, description: str, function: str, config: dict[str, Any],
        hparams: dict[str, Any], metric: str | None, direction: str | None,
    ) -> ExperimentRow:
        """A new run of experiment ``name`` (status ``running``); its run number is the next free one."""
        with self.db.write() as conn:
            run = int(conn.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM experiments WHERE name = ?", (name,)).fetchone()[0])
            cursor = conn.execute(
                "INSERT INTO experiments (name, run, kind, status, description, function, config, hparams, metric,"
                " direction, location, started_at, owner_pid, owner_host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, run, kind, "running", description, function, dumps(config), dumps(hparams), metric, direction,
                 f"experiments/{name}/{run}", now(), os.getpid(), socket.gethostname()),
            )
            experiment_id = int(cursor.lastrowid or 0)
        found = self.by_id(experiment_id)
        assert found is not None
        return found

    def set_environment(self, experiment_id: int, environment: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE experiments SET environment = ? WHERE id = ?", (dumps(environment), experiment_id))

    def finish(
        self, experiment_id: int, *, status: str, hparams: dict[str, Any], metrics: dict[str, Any],
        best_value: float | None, files: dict[str, str], error: str | None, duration_s: float,
    ) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE experiments SET status = ?, hparams = ?, metrics = ?, best_value = ?, files = ?, error = ?,"
                " finished_at = ?, duration_s = ? WHERE id = ?",
                (status, dumps(hparams), dumps(metrics), _real(best_value), dumps(files), error, now(), duration_s,
                 experiment_id),
            )

    def save_trial(self, experiment_id: int, trial: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO experiment_trials (experiment_id, trial, hparams, status, metrics, value, steps,"
                " files, outputs, attempts, worker, error, started_at, duration_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    experiment_id, trial["trial"], dumps(trial["hparams"]), trial["status"], dumps(trial["metrics"]),
                    _real(trial.get("value")), dumps(trial.get("steps", [])), dumps(trial.get("files", {})),
                    dumps(trial.get("outputs", {})), trial.get("attempts", 1), trial.get("worker"), trial.get("error"), trial["started_at"],
                    trial.get("duration_s"),
                ),
            )

    def by_id(self, experiment_id: int) -> ExperimentRow | None:
        rows = self.db.query("SELECT * FROM experiments WHERE id = ?", (experiment_id,))
        return _experiment(rows[0]) if rows else None

    def get(self, name: str, run: int | None = None) -> ExperimentRow | None:
        if run is None:
            rows = self.db.query("SELECT * FROM experiments WHERE name = ? ORDER BY run DESC LIMIT 1", (name,))
        else:
            rows = self.db.query("SELECT * FROM experiments WHERE name = ? AND run = ?", (name, run))
        return _experiment(rows[0]) if rows else None

    def mark_orphans(self) -> int:
        """Runs still "running" whose owning process on this host is gone become "interrupted"."""
        host = socket.gethostname()
        rows = self.db.query(
            "SELECT id, owner_pid FROM experiments WHERE status = 'running' AND owner_pid IS NOT NULL AND owner_host = ?",
            (host,),
        )
        dead = [r["id"] for r in rows if not alive(int(r["owner_pid"]))]
        if dead:
            with self.db.write() as conn:
                conn.executemany(
                    "UPDATE experiments SET status = 'interrupted', error = coalesce(error, ?), finished_at = ?"
                    " WHERE id = ? AND status = 'running'",
                    [("the process running it ended without finishing it (killed?)", now(), i) for i in dead],
                )
        return len(dead)

    def list(self, name: str | None = None) -> list[ExperimentRow]:
        self.mark_orphans()
        if name is None:
            rows = self.db.query("SELECT * FROM experiments ORDER BY id")
        else:
            rows = self.db.query("SELECT * FROM experiments WHERE name = ? ORDER BY run", (name,))
        return [_experiment(r) for r in rows]

    def names(self) -> builtins.list[str]:
        return [r["name"] for r in self.db.query("SELECT DISTINCT name FROM experiments ORDER BY name")]

    def trials(self, experiment_id: int) -> builtins.list[TrialRow]:
        rows = self.db.query("SELECT * FROM experiment_trials WHERE experiment_id = ? ORDER BY trial", (experiment_id,))
        return [_trial(r) for r in rows]

    def update_description(self, experiment_id: int, description: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE experiments SET description = ? WHERE id = ?", (description, experiment_id))

    def delete(self, experiment_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))


def _real(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None




def _experiment(row: Any) -> ExperimentRow:
    return ExperimentRow(
        id=row["id"],
        name=row["name"],
        run=row["run"],
        kind=row["kind"],
        status=row["status"],
        description=row["description"],
        function=row["function"],
        config=json.loads(row["config"]),
        hparams=json.loads(row["hparams"]),
        metrics=json.loads(row["metrics"]),
        metric=row["metric"],
        direction=row["direction"],
        best_value=row["best_value"],
        files=json.loads(row["files"]),
        environment=json.loads(row["environment"]),
        error=row["error"],
        location=row["location"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_s=row["duration_s"],
    )


def _trial(row: Any) -> TrialRow:
    return TrialRow(
        trial=row["trial"],
        hparams=json.loads(row["hparams"]),
        status=row["status"],
        metrics=json.loads(row["metrics"]),
        value=row["value"],
        steps=json.loads(row["steps"]),
        files=json.loads(row["files"]),
        outputs=json.loads(row["outputs"]),
        attempts=row["attempts"],
        worker=row["worker"],
        error=row["error"],
        started_at=row["started_at"],
        duration_s=row["duration_s"],
    )
