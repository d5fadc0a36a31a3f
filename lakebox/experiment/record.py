"""The ``Result`` that ``lagom`` returns, and the names of a run's log files.

The recorded run itself is the api layer's ``Experiment`` (``lakebox.experiments``); the result
holds the one its recorder hands back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RUN_LOG = "run.log"
TRIAL_LOG = "output.log"


class Result:
    """What ``lagom`` returns: the best hyperparameters and value, every trial, the recorded run.

    ``result["accuracy"]`` reads a metric of the result (the best trial's, for a search).
    """

    def __init__(self, experiment: Any, trials: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
        self.experiment = experiment
        self.trials = trials
        self.extra = dict(extra or {})

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def run(self) -> int:
        return self.experiment.run

    @property
    def kind(self) -> str:
        return self.experiment.kind

    @property
    def status(self) -> str:
        return self.experiment.status

    @property
    def metric(self) -> str | None:
        return self.experiment.metric

    @property
    def duration_s(self) -> float | None:
        return self.experiment.duration_s

    @property
    def files(self) -> dict[str, Path]:
        return self.experiment.files

    @property
    def error(self) -> str | None:
        return self.experiment.error

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
