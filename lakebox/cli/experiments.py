"""``lakebox experiments ...`` and ``lakebox models ...``: recorded lagom runs and the model registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lakebox.cli.formats import escape
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from lakebox.experiments import Experiment
    from lakebox.model_registry import Model

SORT_KEYS = ("metric", "trial", "duration")


# -- experiments -----------------------------------------------------------------------------
@click.group("experiments", short_help="Recorded training runs (experiment.lagom): list, show.")
def experiments() -> None:
    """Experiments: every run of experiment.lagom recorded in the box, with its hyperparameters,
    metrics, trials, worker logs, environment and lineage. Runs are made in Python (lagom);
    `lakebox demo` records two.
    """


@experiments.command("list", short_help="List the recorded runs.")
@click.argument("name", required=False)
@output_option
@pass_state
def list_experiments(state: State, name: str | None) -> None:
    """List the runs of every experiment, oldest first (or only the runs of experiment NAME):
    kind, status, the optimised metric and its best value, duration and start time.
    """
    project = state.open()
    runs = project.get_experiments(name)
    if name is not None and not runs:
        from lakebox.experiments import get_experiment

        get_experiment(name, project=project)  # raises NotFoundError with a did-you-mean hint
    state.out.experiments({"name": name, "experiments": [describe_run(r) for r in runs]})


@experiments.command("show", short_help="Show a run: summary, trials, logs.")
@click.argument("name")
@click.option("--run", "run_number", type=click.IntRange(min=1), default=None, help="Run number (default: the latest).")
@click.option(
    "--trials", "show_trials", is_flag=True, help="List every trial (a search's, an ablation's, one per rank)."
)
@click.option(
    "--sort", type=click.Choice(SORT_KEYS), default="metric", show_default=True,
    help="Order of --trials: by the run's metric (best first), by trial number, or by duration (longest first).",
)  # fmt: skip
@click.option("--log", "show_log", is_flag=True, help="Print the run's log: every worker's output, prefixed by its id.")
@click.option("--trial", "trial", type=click.IntRange(min=0), default=None, help="Show one trial and its own output.")
@output_option
@pass_state
def show_experiment(
    state: State, name: str, run_number: int | None, show_trials: bool, sort: str, show_log: bool, trial: int | None
) -> None:
    """Show run --run (default: the latest) of experiment NAME: status, hyperparameters and
    metrics (of the best trial, for a search), duration, environment, files, the training
    datasets it read and the models it produced.

    \b
    Example:
      lakebox experiments show attendance_gbr_search --trials
      lakebox experiments show attendance_torch_ddp --log
      lakebox experiments show attendance_gbr_search --trial 2
    """
    from lakebox.experiments import get_experiment

    run = get_experiment(name, run_number, project=state.open())
    data = describe_run(run, details=True)
    trials = run.trials
    order = sort if run.metric is not None or sort == "duration" else "trial"
    data["trials"] = sort_trials(trials, run.metric, run.direction, order)
    data["sort"] = order
    data["show_trials"] = show_trials
    if trial is not None:
        chosen = next((t for t in trials if t["trial"] == trial), None)
        if chosen is None:
            numbers = [t["trial"] for t in trials]
            raise NotFoundError(f"Experiment {run.name} run {run.run} has no trial {trial}; its trials are {numbers}.")
        data["trial"] = {**chosen, "log": run.logs(trial)}
    if show_log:
        data["log"] = run.logs()
    state.out.experiment(data)


@experiments.command("tensorboard", short_help="Print the tensorboard --logdir line of an experiment's runs.")
@click.argument("name")
@click.option("--run", "run_number", type=click.IntRange(min=1), default=None,
              help="Only this run (default: every run of NAME, one TensorBoard run each).")
@pass_state
def tensorboard(state: State, name: str, run_number: int | None) -> None:
    """Print the command that shows the TensorBoard event files of experiment NAME (written by
    experiment.log_scalar or experiment.summary_writer() inside lagom; one folder per trial or
    rank). TensorBoard is an optional extra: pip install 'lakebox[tensorboard]'.

    \b
    Example:
      lakebox experiments tensorboard attendance_torch_ddp
      $(lakebox experiments tensorboard attendance_torch_ddp)   # start it
    """
    import shlex

    from lakebox.experiments import get_experiment

    project = state.open()
    run = get_experiment(name, run_number, project=project)  # NotFoundError with a did-you-mean hint
    folder = run.tensorboard_dir if run_number is not None else run.path.parent
    click.echo(f"tensorboard --logdir {shlex.quote(str(folder))}")


def describe_run(run: Experiment, details: bool = False) -> dict[str, Any]:
    """A recorded run as plain data (``experiments list`` and ``show``)."""
    data = {
        "name": run.name,
        "run": run.run,
        "kind": run.kind,
        "status": run.status,
        "metric": run.metric,
        "direction": run.direction,
        "best_val": run.best_val,
        "duration_s": run.duration_s,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "description": run.description,
    }
    if not details:
        return data
    environment = run.environment
    return {
        **data,
        "function": run.function,
        "hparams": run.hparams,
        "metrics": run.metrics,
        "error": run.error,
        "path": str(run.path),
        "files": {key: str(path) for key, path in run.files.items()},
        "config": run.config,
        "environment": {
            "python": environment.get("python"),
            "platform": environment.get("platform"),
            "packages": len(environment.get("packages") or {}),
            "git": environment.get("git"),
        },
        "training_datasets": [
            {"name": a.name, "version": a.version, "parent": a.parent} for a in run.training_datasets()
        ],
        "models": [{"name": m.name, "version": m.version} for m in run.models()],
        "tags": run.get_tags(),
    }


def sort_trials(
    trials: list[dict[str, Any]], metric: str | None, direction: str | None, key: str
) -> list[dict[str, Any]]:
    """Trials ordered by the run's metric (best first, unscored last), trial number or duration."""
    if key == "duration":
        return sorted(trials, key=lambda t: (t["duration_s"] is None, -(t["duration_s"] or 0.0), t["trial"]))
    if key == "trial" or metric is None:
        return sorted(trials, key=lambda t: t["trial"])
    sign = -1.0 if direction != "min" else 1.0

    def value(t: dict[str, Any]) -> float | None:
        v = t["value"] if t["value"] is not None else (t["metrics"] or {}).get(metric)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return sorted(trials, key=lambda t: (value(t) is None, sign * (value(t) or 0.0), t["trial"]))


# -- models ------------------------------------------------------------------------------------
@click.group("models", short_help="The model registry: list, show, download.")
def models() -> None:
    """Models: versioned files with metrics, registered in Python with
    project.get_model_registry().create_model(...) and model.save(path). A model made inside a
    lagom run is linked to the run and to the training datasets it read.
    """


VERSION_HELP = "Model version (default: the latest)."


@models.command("list", short_help="List the registered models.")
@click.argument("name", required=False)
@output_option
@pass_state
def list_models(state: State, name: str | None) -> None:
    """List every model version of the box (or the versions of model NAME): metrics, the
    training dataset it was trained on, and when it was registered."""
    registry = state.open().get_model_registry()
    found = registry.get_models(name)
    if name is not None and not found:
        registry.get_model(name)  # raises NotFoundError with a did-you-mean hint
    state.out.models({"name": name, "models": [describe_model(m) for m in found]})


@models.command("show", short_help="Show a model: metrics, files, lineage.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def show_model(state: State, name: str, version: int | None) -> None:
    """Show version --version (default: the latest) of model NAME: description, metrics, the
    experiment run that made it, its files, and its lineage back to the feature groups.

    \b
    Example:
      lakebox models show attendance_model --version 1
    """
    project = state.open()
    model = project.get_model_registry().get_model(name, version)
    graph = project.lineage(model, direction="up")
    lineage = graph.to_dict()
    for asset_id, asset in graph.nodes.items():
        lineage["nodes"][asset_id].update(parent=asset.parent, label=asset.label)
    state.out.model({**describe_model(model, details=True), "lineage": {"direction": "up", **lineage}})


@models.command("download", short_help="Copy a model's files to a folder.")
@click.argument("name")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@click.option("--overwrite", is_flag=True, help="Replace files of the same name already in DEST.")
@output_option
@pass_state
def download_model(state: State, name: str, dest: Path, version: int | None, overwrite: bool) -> None:
    """Copy the files of model NAME (version --version, default the latest) into folder DEST
    (created if missing). Files already in DEST are left alone unless --overwrite.

    \b
    Example:
      lakebox models download attendance_model ./model --version 1
    """
    model = state.open().get_model_registry().get_model(name, version)
    if dest.exists() and not dest.is_dir():
        raise ValidationError(f"{dest} is a file; give a folder to download model {model.name} v{model.version} into.")
    files = model.files
    clashes = [f for f in files if (dest / f).exists()]
    if clashes and not overwrite:
        raise ValidationError(
            f"{dest} already holds {', '.join(clashes[:3])}{' …' if len(clashes) > 3 else ''}; "
            "pass --overwrite to replace them, or choose another folder."
        )
    with state.busy(f"Copying {model.name} v{model.version}…"):
        where = model.download(dest)
    size = sum(os.path.getsize(Path(where) / f) for f in files)
    data = {
        "name": model.name,
        "version": model.version,
        "path": str(Path(where).resolve()),
        "files": files,
        "bytes": size,
    }
    state.out.result(
        data,
        f"[green]✓[/] Downloaded {escape(model.name)} v{model.version} ({len(files)} file(s), {size:,} bytes) "
        f"to [bold]{escape(str(dest))}[/].",
    )


def describe_model(model: Model, details: bool = False) -> dict[str, Any]:
    """A model version as plain data (``models list`` and ``show``)."""
    data = {
        "name": model.name,
        "version": model.version,
        "description": model.description,
        "metrics": model.metrics,
        "training_dataset": model.training_dataset,
        "created_at": model.created_at,
    }
    if not details:
        return data
    run = model.experiment
    return {
        **data,
        "path": str(model.path),
        "files": [{"name": f, "bytes": (model.path / f).stat().st_size} for f in model.files],
        "experiment": {"name": run.name, "run": run.run} if run is not None else None,
        "input_example": model.input_example,
        "tags": model.get_tags(),
    }
