"""``lagom``, the entry point: check the config and the function, then run it in the context
the config chooses (``scheduling`` for trials in worker processes, ``launching`` for torch's
launcher) while ``recording`` records the run through the box's recording port.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, overload

from lakebox.errors import NotFoundError, ValidationError
from lakebox.experiment import port, signature
from lakebox.experiment.ablation import ablation_trials
from lakebox.experiment.config import (
    AblationConfig,
    Config,
    HyperparameterOptConfig,
    TorchDistributedConfig,
    _Common,
)
from lakebox.experiment.errors import ExperimentError
from lakebox.experiment.functions import dumps as serialise
from lakebox.experiment.launching import join_distributed, run_distributed
from lakebox.experiment.optimizer import FixedTrials, OptunaSearch
from lakebox.experiment.record import Result
from lakebox.experiment.recording import Run
from lakebox.experiment.scheduling import gpus_of, run_trials
from lakebox.extras import require


@overload
def lagom(
    train_fn: Callable[..., Any],
    config: Config | HyperparameterOptConfig | AblationConfig,
    project: Any = None,
    *,
    echo: bool | Callable[[str], None] = True,
) -> Result: ...


@overload
def lagom(
    train_fn: Callable[..., Any],
    config: TorchDistributedConfig,
    project: Any = None,
    *,
    echo: bool | Callable[[str], None] = True,
) -> Result | None: ...


def lagom(
    train_fn: Callable[..., Any],
    config: Config | HyperparameterOptConfig | AblationConfig | TorchDistributedConfig,
    project: Any = None,
    *,
    echo: bool | Callable[[str], None] = True,
) -> Result | None:
    """Run ``train_fn`` as ``config`` says, in worker processes, and record the run in the box.

    Args:
        train_fn: a top-level function returning a dict of metrics and file paths (or a number).
            Its parameters decide what it receives: hyperparameters by name, ``hparams`` (the
            dict), ``reporter``, ``dataset_factory``, ``model_factory`` (see ``signature``).
        config: ``Config`` (one run), ``HyperparameterOptConfig`` (a search),
            ``AblationConfig`` (leave one out) or ``TorchDistributedConfig`` (data parallel).
        project: the box to record in (a ``Project``, or any recorder of the recording port,
            ``lakebox.experiment.port.Recorder``); default: the one ``lakebox.connect`` opened last.
        echo: print worker output live, each line prefixed by its worker (``[w0] ...``), to
            stdout (True), nowhere (False), or to a callable taking each line.

    Returns a ``Result`` (``best_hp``, ``best_val``, ``metrics``, ``trials``, ``experiment``);
    on a node that joins a multi-node run (``node_rank > 0``) None, once its ranks finished.
    Raises ``ExperimentError`` (with ``.result``) when the run, or every trial, failed.

    >>> result = lagom(train, HyperparameterOptConfig(searchspace=sp, num_trials=8, metric="acc"))  # doctest: +SKIP
    """
    if not isinstance(config, _Common):
        raise ValidationError(
            "config must be a Config, HyperparameterOptConfig, AblationConfig or TorchDistributedConfig, "
            f"got {type(config).__name__}."
        )
    # experiments are the `train` extra (optuna, torch): a light install says what to install
    require("optuna", "Experiments (experiment.lagom)")
    if isinstance(config, TorchDistributedConfig):
        require("torch", "Data-parallel training (TorchDistributedConfig)")
    joins = isinstance(config, TorchDistributedConfig) and config.joins
    recorder = _joining_recorder(project, config) if joins else port.recorder(project)
    dataset, view = _dataset_spec(recorder, config)
    fixed = config.fixed_hparams()
    names = list(fixed) + (config.searchspace.names if isinstance(config, HyperparameterOptConfig) else [])
    plan = signature.plan(train_fn, names, dataset is not None, config.model_factory is not None)
    by_script = isinstance(config, TorchDistributedConfig)  # torch's launcher starts the ranks, not multiprocessing
    fn_bytes = serialise(train_fn, "The training function", by_script)
    model_bytes = (serialise(config.model_factory, "model_factory", by_script)
                   if config.model_factory is not None else None)
    trials_spec: list[dict[str, Any]] = []
    if isinstance(config, AblationConfig):
        features = _ablation_features(config, view)
        trials_spec = ablation_trials(features, list(config.components), config.baseline)
    function = f"{getattr(train_fn, '__module__', '?')}.{getattr(train_fn, '__qualname__', repr(train_fn))}"
    name = config.name or _default_name(train_fn)
    if joins:  # another node records the run: start this node's ranks, return when they are done
        assert isinstance(config, TorchDistributedConfig)
        code = join_distributed(config, fn_bytes, plan, dataset, model_bytes, fixed, recorder, echo, name)
        if code != 0:
            raise ExperimentError(
                f"This node's ranks of {name} (node_rank {config.node_rank}) failed (torch's launcher exited with code "
                f"{code}); their output is above, and the run's record is on node 0."
            )
        return None
    assert recorder is not None  # only a joining node may run without a box
    run = Run(recorder, config, name, function, echo, fixed)
    try:
        if isinstance(config, TorchDistributedConfig):
            run_distributed(run, config, fn_bytes, plan, dataset, model_bytes, fixed)
        else:
            if isinstance(config, HyperparameterOptConfig):
                source: Any = OptunaSearch(config, recorder.box, name)
                workers = config.workers or len(gpus_of(config)) or os.cpu_count() or 1
            elif isinstance(config, AblationConfig):
                source = FixedTrials({"ablated": t["ablated"], "ablation_kind": t["kind"]} for t in trials_spec)
                workers = config.workers or len(gpus_of(config)) or os.cpu_count() or 1
            else:
                source = FixedTrials([{}])
                workers = 1
            if getattr(source, "shared", False):
                run.note(f"Optuna study {source.study_name!r} in {_masked(source.storage)}: {source.remaining()} of "
                         f"{source.total} trial(s) left" + (f", {source.resumed} re-queued" if source.resumed else ""))
            try:
                run_trials(run, config, source, min(workers, max(1, source.total)), fn_bytes, plan, dataset, model_bytes, fixed)
                if not run.trials and getattr(source, "shared", False):
                    _study_best(run, source, fixed)
            finally:
                source.close()
    except BaseException as e:
        run.abort(e)
        raise
    return run.finish()


def _joining_recorder(project: Any, config: _Common) -> port.Recorder | None:
    """A joining node needs a box only for the dataset factory (the box on a shared filesystem, or a copy)."""
    if config.feature_view is None:
        return None
    return port.recorder(project)


def _study_best(run: Run, source: OptunaSearch, fixed: dict[str, Any]) -> None:
    """This process found the shared study's trials all taken: the run reports the study's best."""
    best = source.study_best()
    if best is None:
        return
    run.note(f"study {source.study_name!r} has no trial left for this process; its best so far: trial "
             f"{best['number']} ({run.config.metric} = {best['value']})")
    metrics = {run.config.metric: best["value"]} if run.config.metric else {}
    run.extra["_best"] = {"hparams": {**fixed, **best["hparams"]}, "metrics": metrics, "value": best["value"],
                          "files": {}, "trial": None}


def _masked(storage: Any) -> str:
    """A storage for the log: a URL without its password."""
    url = storage if isinstance(storage, str) else getattr(storage, "url", None)
    if isinstance(url, str):
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    return type(storage).__name__


def _default_name(fn: Any) -> str:
    raw = getattr(fn, "__name__", "experiment")
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "_" for c in raw).strip(".") or "experiment"
    return cleaned[:100]


def _dataset_spec(recorder: port.Recorder | None, config: _Common) -> tuple[dict[str, Any] | None, Any]:
    spec = config.feature_view
    if spec is None:
        return None, None
    if isinstance(spec, str):
        name, version = spec, None
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        name, version = spec
    elif hasattr(spec, "name") and hasattr(spec, "version") and hasattr(spec, "get_training_data"):
        name, version = spec.name, spec.version
    else:
        raise ValidationError(f"feature_view must be a FeatureView, a view name or (name, version); got {spec!r}.")
    assert recorder is not None
    view = recorder.feature_view(name, version)
    versions = [d["version"] for d in view.get_training_datasets()]
    td = config.training_dataset_version
    if td is None:
        if not versions:
            raise ValidationError(
                f"Feature view {view.name} v{view.version} has no training dataset for the dataset factory: "
                "call fv.create_training_dataset() first, or pass training_dataset_version=."
            )
        td = versions[-1]
    elif td not in versions:
        raise NotFoundError(f"Feature view {view.name} v{view.version} has no training dataset v{td}; it has {versions}.")
    return {"feature_view": view.name, "feature_view_version": view.version, "version": td}, view


def _ablation_features(config: AblationConfig, view: Any) -> list[str]:
    if view is None:
        return []
    hidden = set(view.primary_key) | {view.query.root_group.event_time}
    available = [f for f in view.features if f not in hidden]
    if config.features is None:
        return available
    from lakebox.names import did_you_mean

    for feature in config.features:
        if feature not in available:
            raise NotFoundError(
                f"Feature view {view.name} v{view.version} has no feature {feature!r} to leave out"
                f"{did_you_mean(feature, available)} Its features are {available}."
            )
    return list(config.features)
