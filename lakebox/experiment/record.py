"""Recorded runs: the ``Experiment`` api object (``project.get_experiments()``) and the ``Result``
that ``lagom`` returns."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.catalog.experiments import ExperimentRow, ExperimentStore
from lakebox.errors import NotFoundError
from lakebox.tags import Taggable

RUN_LOG = "run.log"
TRIAL_LOG = "output.log"


class Experiment(Taggable):
    """One recorded run of ``lagom``: parameters, metrics, trials, logs, environment, files."""

    _asset_kind = "experiment"

    def __init__(self, project: Any, row: ExperimentRow) -> None:
        self._project = project
        self._row = row

    # -- assets (tags, lineage, search) ---------------------------------------------------
    def _assets(self) -> AssetStore:
        return AssetStore(self._project.catalog)

    def _store(self) -> ExperimentStore:
        return ExperimentStore(self._project.catalog)

    def refresh(self) -> Experiment:
        row = self._store().by_id(self._row.id)
        if row is None:
            raise NotFoundError(f"Experiment {self.name} run {self.run} was deleted.")
        self._row = row
        return self

    # -- metadata -------------------------------------------------------------------------
    @property
    def run(self) -> int:
        return self._row.run

    @property
    def version(self) -> int:
        """The run number (assets are versioned; an experiment's versions are its runs)."""
        return self._row.run

    @property
    def kind(self) -> str:
        return self._row.kind

    @property
    def status(self) -> str:
        return self._row.status

    @property
    def function(self) -> str:
        return self._row.function

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._row.config)

    @property
    def hparams(self) -> dict[str, Any]:
        """The run's hyperparameters (for a search: the best trial's)."""
        return dict(self._row.hparams)

    best_hp = hparams

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's metrics (for a search or ablation: the best trial's; distributed: averaged over ranks)."""
        return dict(self._row.metrics)

    @property
    def metric(self) -> str | None:
        return self._row.metric

    @property
    def direction(self) -> str | None:
        return self._row.direction

    @property
    def best_val(self) -> float | None:
        return self._row.best_value

    @property
    def error(self) -> str | None:
        return self._row.error

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self._row.environment)

    @property
    def started_at(self) -> str:
        return self._row.started_at

    @property
    def finished_at(self) -> str | None:
        return self._row.finished_at

    @property
    def duration_s(self) -> float | None:
        return self._row.duration_s

    @property
    def path(self) -> Path:
        """The run's folder in the box: ``artifacts/experiments/<name>/<run>/``."""
        return self._project.artifacts / self._row.location

    @property
    def files(self) -> dict[str, Path]:
        """Files the function returned, copied into the box: ``{key: path}``."""
        root = self._project.artifacts
        return {k: root / v for k, v in self._row.files.items()}

    @property
    def trials(self) -> list[dict[str, Any]]:
        """Every trial (a search's, an ablation's, or one per rank): hparams, status, metrics, steps..."""
        return [t.to_dict() for t in self._store().trials(self._row.id)]

    def logs(self, trial: int | None = None) -> str:
        """The run's output, every line prefixed by its worker (or one trial's output, unprefixed)."""
        path = self.path / RUN_LOG if trial is None else self.path / "trials" / str(trial) / TRIAL_LOG
        if not path.exists():
            if trial is not None and trial not in {t["trial"] for t in self.trials}:
                raise NotFoundError(f"Experiment {self.name} run {self.run} has no trial {trial}.")
            return ""
        return path.read_text(encoding="utf-8", errors="replace")

    def training_datasets(self) -> list[Asset]:
        """Training datasets the function read (recorded without the user logging anything)."""
        store = self._assets()
        return [store.by_id(src) for src, _, relation, _ in store.edges(self._asset().id, "up") if relation == "input"]

    def models(self) -> list[Any]:
        """Models registered inside the run."""
        from lakebox.model_registry import ModelRegistry

        registry = ModelRegistry(self._project)
        return [m for m in registry.get_models() if m.experiment_id == self._row.id]

    def update_description(self, description: str) -> Experiment:
        """Change the description (it is searchable)."""
        from lakebox.errors import ValidationError

        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        self._store().update_description(self._row.id, description)
        return self.refresh()

    def delete(self) -> None:
        """Delete the run: its catalog rows, tags, lineage edges and artifacts (models stay)."""
        self._store().delete(self._row.id)
        shutil.rmtree(self.path, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        row = self._row
        return {
            "name": row.name,
            "run": row.run,
            "kind": row.kind,
            "status": row.status,
            "description": row.description,
            "function": row.function,
            "config": row.config,
            "hparams": row.hparams,
            "metrics": row.metrics,
            "metric": row.metric,
            "direction": row.direction,
            "best_val": row.best_value,
            "files": row.files,
            "error": row.error,
            "location": row.location,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "duration_s": row.duration_s,
            "environment": row.environment,
        }

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, run={self.run}, kind={self.kind!r}, status={self.status!r})"


class Result:
    """What ``lagom`` returns: the best hyperparameters and value, every trial, the recorded run.

    ``result["accuracy"]`` reads a metric of the result (the best trial's, for a search).
    """

    def __init__(self, experiment: Experiment, trials: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
        self.experiment = experiment
        self.trials = trials
        self.extra = dict(extra or {})

    name = property(lambda self: self.experiment.name)
    run = property(lambda self: self.experiment.run)
    kind = property(lambda self: self.experiment.kind)
    status = property(lambda self: self.experiment.status)
    metric = property(lambda self: self.experiment.metric)
    duration_s = property(lambda self: self.experiment.duration_s)
    files = property(lambda self: self.experiment.files)
    error = property(lambda self: self.experiment.error)

    @property
    def best_hp(self) -> dict[str, Any]:
        return self.experiment.hparams

    @property
    def best_val(self) -> float | None:
        return self.experiment.best_val

    @property
    def metrics(self) -> dict[str, Any]:
        return self.experiment.metrics

    @property
    def best_trial(self) -> int | None:
        return self.extra.get("best_trial")

    @property
    def ablation(self) -> dict[str, Any] | None:
        """For an ablation: ``{"baseline": value, "<left out>": value, ...}`` of the metric."""
        return self.extra.get("ablation")

    @property
    def ranks(self) -> list[dict[str, Any]] | None:
        """For a distributed run: every rank's own metrics."""
        return self.extra.get("ranks")

    def count(self, status: str) -> int:
        return sum(1 for t in self.trials if t["status"] == status)

    def __getitem__(self, key: str) -> Any:
        return self.metrics[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run": self.run,
            "kind": self.kind,
            "status": self.status,
            "best_hp": self.best_hp,
            "best_val": self.best_val,
            "metric": self.metric,
            "metrics": self.metrics,
            "best_trial": self.best_trial,
            "trials": self.trials,
            "duration_s": self.duration_s,
            **{k: v for k, v in self.extra.items() if k != "best_trial"},
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self.count(s)}" for s in ("finished", "pruned", "failed") if self.count(s))
        return (
            f"Result({self.name!r} run {self.run}, {self.status}, best_val={self.best_val}, "
            f"best_hp={self.best_hp}, trials: {counts or 0})"
        )
