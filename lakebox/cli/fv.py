"""``lakebox fv ...`` and ``lakebox td ...``: feature views and their training datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakebox.cli.formats import escape
from lakebox.cli.formats import number as count_text
from lakebox.cli.output import split_summary
from lakebox.cli.state import State, output_option, pass_state

if TYPE_CHECKING:
    from lakebox.feature_view import FeatureView

VIEW_VERSION_HELP = "Feature view version (default: the latest)."
TIME_HELP = "as ISO-8601 with an offset, e.g. 2024-08-01T00:00:00Z (event time of the view's root group)"
FORMATS = ("parquet", "csv", "tsv", "json", "npy", "arrow")


@click.group("fv", short_help="Feature views: list, show.")
def fv() -> None:
    """Feature views: a named, versioned query over feature groups, with labels and
    transformation functions. Create them in Python (fs.create_feature_view); training
    datasets are materialised from them with `lakebox td create`.
    """


@fv.command("list", short_help="List the feature views.")
@output_option
@pass_state
def list_views(state: State) -> None:
    """List every feature view of the box: the groups it reads, labels and training datasets."""
    project = state.open()
    with state.busy("Reading the catalog…"):
        views = project.describe_feature_views()  # the catalog only: no planner, pyarrow or DuckDB
    state.out.views(views)


@fv.command("show", short_help="Show a view's query columns, labels and datasets.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VIEW_VERSION_HELP)
@output_option
@pass_state
def show_view(state: State, name: str, version: int | None) -> None:
    """Show feature view NAME: the groups its query reads, each output column with its role
    (primary key, event time, label, feature) and transformation function, and its training
    dataset versions."""
    state.out.view(state.open().describe_feature_view(name, version))  # the catalog only


# -- training datasets --------------------------------------------------------------------
@click.group("td", short_help="Training datasets: create, list, show.")
def td() -> None:
    """Training datasets: a feature view's rows materialised as files, split (randomly with a
    seed, or not at all), with transformation functions fitted on the training split. Each
    records the commit of every group it read, so it reads back the same rows forever.
    """


@td.command("create", short_help="Materialise a training dataset of a view.")
@click.argument("view")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VIEW_VERSION_HELP)
@click.option(
    "--format", "data_format", type=click.Choice(FORMATS), default="parquet", show_default=True,
    help="File format of the split files.",
)  # fmt: skip
@click.option(
    "--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
    help="Fraction of rows in the test split (random, seeded). Default: no split.",
)  # fmt: skip
@click.option(
    "--validation-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
    help="Fraction of rows in a validation split (needs --test-size).",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="Seed of the random split (default 0): same seed, same split.")
@click.option("--start", "start_time", default=None, help=f"Only rows at or after this time, {TIME_HELP}.")
@click.option("--end", "end_time", default=None, help=f"Only rows before this time, {TIME_HELP}.")
@click.option("--description", default="", help="Description of the training dataset.")
@output_option
@pass_state
def create_dataset(
    state: State,
    view: str,
    version: int | None,
    data_format: str,
    test_size: float | None,
    validation_size: float | None,
    seed: int | None,
    start_time: str | None,
    end_time: str | None,
    description: str,
) -> None:
    """Materialise a new training dataset version of feature view VIEW.

    Reads the view's query at the groups' current commits (point-in-time joins onto its
    root group), keeps rows in [--start, --end), splits them, fits the transformation
    functions on the training split and writes one file per split under the box's artifacts.

    \b
    Example:
      lakebox td create attendance --test-size 0.2 --seed 42
    """
    fview = state.open().get_feature_store().get_feature_view(view, version)
    with state.busy(f"Materialising a training dataset of {fview.name} v{fview.version}…"):
        number = fview.create_training_dataset(
            data_format=data_format,
            test_size=test_size,
            validation_size=validation_size,
            seed=seed,
            start_time=start_time,
            end_time=end_time,
            description=description,
        )
    info = describe_dataset(fview, number)
    counts = ", ".join(f"{split} {count_text(rows)}" for split, rows in info["row_counts"].items())
    read = ", ".join(f"{s['group']} v{s['version']} @ commit {s['commit_id']}" for s in info["snapshots"])
    message = (
        f"[green]✓[/] {escape(fview.name)} v{fview.version}: training dataset [bold]v{number}[/] "
        f"({escape(data_format)}): {counts} rows.\n  read {escape(read)}\n"
        f"  Show it with [bold]lakebox td show {escape(fview.name)} {number}[/]."
    )
    state.out.result(info, message)


@td.command("list", short_help="List a view's training datasets.")
@click.argument("view")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VIEW_VERSION_HELP)
@output_option
@pass_state
def list_datasets(state: State, view: str, version: int | None) -> None:
    """List the training dataset versions of feature view VIEW: format, rows per split, split."""
    state.out.datasets(state.open().describe_training_datasets(view, version))  # the catalog only


@td.command("show", short_help="Show a training dataset: splits, snapshots, stats.")
@click.argument("view")
@click.argument("td_version", type=click.IntRange(min=1))
@click.option("--view-version", type=click.IntRange(min=1), default=None, help=VIEW_VERSION_HELP)
@output_option
@pass_state
def show_dataset(state: State, view: str, td_version: int, view_version: int | None) -> None:
    """Show training dataset TD_VERSION of feature view VIEW: rows per split, the snapshot
    (commit) of every group it read, the fitted transformation functions and column statistics."""
    fview = state.open().get_feature_store().get_feature_view(view, view_version)
    state.out.dataset(describe_dataset(fview, td_version))


# -- helpers ------------------------------------------------------------------------------
def describe_view(view: FeatureView) -> dict[str, Any]:
    """A feature view as plain data (what ``fv list`` and ``fv show`` render)."""
    from lakebox.listings import view_info

    return view_info(view)


def describe_dataset(view: FeatureView, version: int) -> dict[str, Any]:
    """A training dataset as plain data (``td create`` and ``td show``)."""
    info = view.get_training_dataset(version)
    splits = list(info["row_counts"])
    stats_split = "train" if "train" in splits else (splits[0] if splits else None)
    return {
        "view": view.name,
        "view_version": view.version,
        **info,
        "split": split_summary(info["spec"]),
        "files": {split: str(path) for split, path in view.get_training_dataset_files(version).items()},
        "statistics_split": stats_split,
    }
