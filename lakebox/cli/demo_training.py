"""The training section of ``lakebox demo``: lagom, torch.distributed and the model registry.

``training_section`` runs ``lakebox.demo_training.train_demo_models`` on the demo's feature
view and training dataset, with a spinner that shows each step and the workers' latest line,
then prints a summary (trials, ranks, registered models, the best model's lineage). Without
torch or scikit-learn (the base install) it prints one line saying how to get them and
returns; the demo goes on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table

from lakebox.cli.output import NARROW, render_lineage, render_models, render_trials, seconds
from lakebox.cli.state import State

if TYPE_CHECKING:
    from lakebox.demo import DemoBox

INSTALL_HINT = "bash scripts/install.sh train"
_SKIP = "lakebox.demo.no_training"


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.meta[_SKIP] = value


training_option = click.option(
    "--no-training",
    is_flag=True,
    expose_value=False,
    callback=_remember,
    help="Skip the training section (a hyperparameter search with scikit-learn, torch.distributed on 2 CPU "
    "processes, the model registry); it takes about 10 s.",
)
"""``lakebox demo --no-training`` (the flag is read by ``training_section``)."""


def training_section(state: State, built: DemoBox, training: dict[str, Any]) -> dict[str, Any]:
    """Train, register and trace the demo's models; print them (text output); return the data."""
    from lakebox.demo_training import delete_demo_models, missing_requirements, train_demo_models

    deleted = delete_demo_models(built.project)  # trained on the previous demo's data: stale either way
    if deleted and state.text:
        state.console.print(f"Deleted what the previous demo trained: {escape(', '.join(deleted))}.")
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_SKIP):
        return {"skipped": "--no-training", "deleted": deleted}
    missing = missing_requirements()
    if missing:
        note = f"Skipped the training section: it needs {' and '.join(missing)}; `{INSTALL_HINT}` enables it."
        if state.text:
            state.console.print(f"[dim]{escape(note)}[/]")
        return {"skipped": note, "missing": missing, "deleted": deleted}
    view, version = training["view"], training["training_dataset"]["version"]
    with _live(state) as (on_step, on_line):
        data = train_demo_models(built.project, view, version, on_step=on_step, echo=on_line or False)
    if state.text:
        _print(state, data)
    return {**data, "deleted": deleted}


@contextlib.contextmanager
def _live(state: State) -> Iterator[tuple[Callable[[str], None], Callable[[str], None] | None]]:
    """A spinner on stderr showing the current step and the workers' latest line (terminals only)."""
    if not state.interactive:
        yield (lambda text: None), None
        return
    current = {"step": "Training", "line": ""}
    with state.err_console.status("Training…") as status:

        def show() -> None:
            line = f"\n  [dim]{escape(current['line'][:100])}[/]" if current["line"] else ""
            status.update(f"{escape(current['step'])}…{line}")

        def on_step(text: str) -> None:
            current.update(step=text, line="")
            show()

        def on_line(text: str) -> None:
            current["line"] = text
            show()

        yield on_step, on_line


def _code(code: str) -> Syntax:
    return Syntax(code, "python", theme="ansi_dark", background_color="default", word_wrap=True)


def _print(state: State, data: dict[str, Any]) -> None:
    from lakebox.demo_training import METRIC, MODEL_NAME

    c = state.console
    search, ddp = data["search"], data["distributed"]
    c.print(Rule("Experiments: one training function, run by lagom", align="left"))
    c.print(
        "The training code is a plain function of its hyperparameters that returns metrics and files; "
        "[bold]experiment.lagom[/] runs it in worker processes as the config says and records every run: "
        "parameters, metrics, files, each worker's log, the environment, and the training dataset it read."
    )
    trials = search["trials"]
    c.print(_code(
        "def gradient_boosting(learning_rate, max_depth, dataset_factory):\n"
        "    x_train, x_test, y_train, y_test = dataset_factory()   # fv.get_training_data(1)\n"
        "    ...   # fit a scikit-learn GradientBoostingRegressor, pickle it\n"
        f'    return {{"{METRIC}": r2, "mae": mae, "model": folder}}\n\n'
        "experiment.lagom(gradient_boosting, experiment.HyperparameterOptConfig(\n"
        f'    name="{search["name"]}", feature_view=fv, optimizer="randomsearch", num_trials={len(trials)}, '
        f'workers=2,\n    searchspace=experiment.Searchspace(learning_rate=("DOUBLE", [0.03, 0.3], "log"), '
        'max_depth=("INTEGER", [2, 4])),\n'
        f'    metric="{METRIC}", direction="max"))'
    ))  # fmt: skip
    title = f"{search['name']} run {search['run']}: {len(trials)} trials in {seconds(search['seconds'])} (★ best)"
    c.print(render_trials(trials, search["metric"], "max", title=title, compact=c.width < NARROW))

    backend = ((ddp["trials"] or [{}])[0].get("outputs") or {}).get("backend", "gloo")
    c.print(
        f"The same kind of function, data-parallel: {ddp['world_size']} processes with torch.distributed "
        f"({escape(backend)}: NCCL when there is a GPU per rank, else gloo), each streaming its shard of the "
        "train split; [bold]experiment.prepare_model[/] wraps the MLP in DistributedDataParallel."
    )
    c.print(_code(
        "def torch_mlp(lr, dataset_factory):\n"
        '    x, y = load(dataset_factory.torch_dataset("train"))   # this rank\'s shard\n'
        "    model = experiment.prepare_model(mlp)                  # DDP when distributed\n"
        "    ...   # train with Adam; rank 0 saves the weights\n\n"
        f'experiment.lagom(torch_mlp, experiment.TorchDistributedConfig("{ddp["name"]}", {{"lr": 0.02}},\n'
        f'    world_size={ddp["world_size"]}, backend="auto", feature_view=fv, metric="{METRIC}"))'
    ))  # fmt: skip
    ranks = Table(title=f"{ddp['name']} run {ddp['run']}: {ddp['world_size']} ranks in {seconds(ddp['seconds'])}",
                  title_justify="left")  # fmt: skip
    for column in ("rank", "train rows", "final loss", f"test {METRIC}", "test mae"):
        ranks.add_column(column, justify="right")
    for rank, metrics in enumerate(ddp.get("ranks") or []):
        ranks.add_row(
            str(rank), f"{metrics.get('train_rows', 0):,.0f}", f"{metrics.get('final_loss', 0):.4f}",
            f"{metrics.get(METRIC, 0):.4f}", f"{metrics.get('mae', 0):,.0f}",
        )  # fmt: skip
    c.print(ranks)

    best = data["best_model"]
    c.print(Rule("Model registry and lineage", align="left"))
    c.print(_code(
        "mr = project.get_model_registry()\n"
        f'model = mr.create_model("{MODEL_NAME}", metrics=result.metrics, training_dataset=(fv, 1))\n'
        'model.save(result.files["model"])\n'
        f'best = mr.get_best_model("{MODEL_NAME}", "{METRIC}", direction="max")\n'
        "project.lineage(best)"
    ))  # fmt: skip
    c.print(render_models(data["models"], title=f"Registered versions of {MODEL_NAME}", compact=c.width < NARROW))
    framework = next(m["framework"] for m in data["models"] if m["version"] == best["version"])
    c.print(
        f"Best by {METRIC}: [bold]{escape(best['name'])} v{best['version']}[/] ({escape(framework)}, "
        f"{METRIC} = {best['value']:.4f}). Its lineage reaches the feature groups "
        f"({escape(', '.join(data['feature_groups']))}) through the training dataset and the view:"
    )
    c.print(render_lineage(data["lineage"]))
    box = f"lakebox --box {_shown(data['box'])}"
    c.print(f"  {escape(box)} experiments list")
    c.print(f"  {escape(box)} experiments show {escape(search['name'])} --trials")
    c.print(f"  {escape(box)} models show {escape(MODEL_NAME)} --version {best['version']}")


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else as it is."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
