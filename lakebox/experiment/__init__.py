"""Experiments: the oblivious training function (DESIGN §6).

Write the training code once, as a function of its hyperparameters (and optionally of a
``dataset_factory``, a ``model_factory`` and a ``reporter``) that returns a dict of metrics and
file paths; ``lagom`` runs it as the config says and records the run in the box::

    from lakebox import experiment

    def train(lr, layers, act="relu"):
        ...
        experiment.report(val_accuracy, step=epoch)   # lets the optimizer stop bad trials
        return {"accuracy": accuracy, "model": "model.pt"}

    experiment.lagom(train, experiment.Config("baseline", {"lr": 0.01, "layers": 2}))
    experiment.lagom(train, experiment.HyperparameterOptConfig(
        searchspace=experiment.Searchspace(lr=("DOUBLE", [1e-4, 1e-1]), layers=("INTEGER", [1, 4])),
        optimizer="randomsearch", num_trials=16, metric="accuracy", direction="max"))
    experiment.lagom(train, experiment.TorchDistributedConfig("ddp", {"lr": 0.01, "layers": 2}, world_size=2))

Inside the function, ``prepare_model`` and ``shard`` make it data-parallel under
``TorchDistributedConfig`` and do nothing anywhere else.

This package is the lagom runtime (configs, trial context, scheduling, launching); it records
runs through a recording port (``port.Recorder``) that the api layer implements, and never
imports the api objects. The recorded runs are ``lakebox.experiments.Experiment`` objects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.experiment.config import (
        AblationConfig,
        Config,
        HyperparameterOptConfig,
        Searchspace,
        TorchDistributedConfig,
    )
    from lakebox.experiment.context import EarlyStopped, Reporter, log_scalar, report, summary_writer
    from lakebox.experiment.distributed import (
        all_reduce_mean,
        device,
        is_distributed,
        is_main,
        prepare_model,
        rank,
        shard,
        world_size,
    )
    from lakebox.experiment.errors import ExperimentError, SearchspaceError, SignatureError
    from lakebox.experiment.record import Result
    from lakebox.experiment.runner import lagom

# names -> the module that defines them; imported on first use, so that the api objects'
# lineage hooks (lakebox.experiment.hooks, .context) do not pull in the runner
_EXPORTS = {
    **dict.fromkeys(
        ("AblationConfig", "Config", "HyperparameterOptConfig", "Searchspace", "TorchDistributedConfig"), "config"),
    **dict.fromkeys(("EarlyStopped", "Reporter", "log_scalar", "report", "summary_writer"), "context"),
    **dict.fromkeys(("all_reduce_mean", "device", "is_distributed", "is_main", "prepare_model", "rank", "shard",
                     "world_size"), "distributed"),
    **dict.fromkeys(("ExperimentError", "SearchspaceError", "SignatureError"), "errors"),
    "Result": "record",
    "lagom": "runner",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lakebox.experiment' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lakebox.experiment.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AblationConfig",
    "Config",
    "EarlyStopped",
    "ExperimentError",
    "HyperparameterOptConfig",
    "Reporter",
    "Result",
    "SearchspaceError",
    "Searchspace",
    "SignatureError",
    "TorchDistributedConfig",
    "all_reduce_mean",
    "device",
    "get_experiment",
    "is_distributed",
    "is_main",
    "lagom",
    "log_scalar",
    "prepare_model",
    "rank",
    "report",
    "shard",
    "summary_writer",
    "world_size",
]


def get_experiment(name: str, run: int | None = None, project: Any = None) -> Any:
    """A recorded run (the latest run of ``name`` unless ``run`` is given): an
    ``lakebox.experiments.Experiment``, found by the api layer bound to the recording port."""
    from lakebox.experiment import port

    return port.api().get_experiment(name, run, project)
