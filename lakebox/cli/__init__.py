"""The ``lakebox`` command line: a few lines per command over the public api.

Every ``LakeboxError`` becomes one red line (``Error [code] message``) on stderr and exit
status 1, never a traceback; with ``--output json`` it is the JSON of ``err.to_dict()`` on
stdout. Results go through the output layer (``lakebox.cli.output``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from lakebox import __version__
from lakebox.box import TOML_NAME
from lakebox.cli.flags import in_cli_terms
from lakebox.cli.lazy import lazy
from lakebox.cli.output import OUTPUT_FORMATS
from lakebox.cli.state import TIME_OR_COMMIT, State, max_rows_option, output_option, pass_state
from lakebox.errors import LakeboxError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class LakeboxGroup(click.Group):
    """A click group that reports ``LakeboxError`` as one line (or JSON) and exits with 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LakeboxError as err:
            ctx.ensure_object(State).out.error(in_cli_terms(err, ctx.find_root().command))
            ctx.exit(1)


@click.group(cls=LakeboxGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--box",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The box directory to use. Default: $LAKEBOX_HOME if set, else ./.lakebox.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="Output format: text (tables for people) or json (one JSON document on stdout, errors included).",
)
@click.option("-v", "--verbose", count=True, help="Log what lakebox does to stderr (-vv for debug detail).")
@click.version_option(__version__, "-V", "--version", prog_name="lakebox", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, box: Path | None, output: str, verbose: int) -> None:
    """lakebox: an embedded lakehouse and feature store for ML, in one directory.

    \b
    Start with:
      lakebox demo                     build a demo box and tour it
      lakebox init                     create an empty box (./.lakebox or $LAKEBOX_HOME)
      lakebox fg ingest NAME FILE ...  load a Parquet or CSV file into a feature group
      lakebox td create VIEW           materialise a training dataset of a feature view
      lakebox serve                    serve feature vectors over HTTP (127.0.0.1, API keys)
    """
    state = ctx.ensure_object(State)
    state.box = box
    state.output = output
    ctx.call_on_close(state.close)
    if verbose:
        _log_to(state, logging.DEBUG if verbose > 1 else logging.INFO, ctx)


@cli.command("init", short_help="Create an empty box.")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@output_option
@pass_state
def init(state: State, path: Path | None) -> None:
    """Create an empty box at PATH (default: --box, $LAKEBOX_HOME or ./.lakebox).

    A box is one directory holding the catalog, the Iceberg warehouse and the online store;
    copying the directory copies everything. An existing box is left as it is.
    """
    from rich.markup import escape

    from lakebox.cli.formats import plural

    where = path if path is not None else state.box_path
    existed = (where / TOML_NAME).is_file()
    project = state.connect(where)
    groups = project.get_feature_store().get_feature_groups()
    data = {"path": str(project.path), "created": not existed, "feature_groups": len(groups)}
    if existed:
        message = f"A box already exists at [bold]{escape(str(project.path))}[/] ({plural(len(groups), 'feature group')}); left unchanged."
    else:
        message = f"[green]✓[/] Created an empty box at [bold]{escape(str(project.path))}[/]."
    state.out.result(data, message)


@cli.command("sql", short_help="Run a read-only SQL query over the feature groups.")
@click.argument("query")
@click.option(
    "--as-of",
    type=TIME_OR_COMMIT,
    default=None,
    help="Read every feature group as it was at this commit time (ISO-8601 with an offset, e.g. "
    "2026-01-01T12:00:00Z). A commit id is refused here: ids are per group and a query may read "
    "several (find a commit's time with `lakebox fg commits NAME`).",
)
@max_rows_option
@output_option
@pass_state
def sql(state: State, query: str, as_of: int | str | None, max_rows: int) -> None:
    """Run one read-only SQL SELECT (DuckDB dialect) over the feature groups.

    Each group is a table named name_version (players_1), and its latest version is also
    plain name (players).

    \b
    Example:
      lakebox sql "SELECT position, avg(rating) FROM players_1 GROUP BY position"
    """
    from lakebox.cli.output import table_data

    fs = state.open().get_feature_store()
    with state.busy("Running the query…"):
        result = fs.sql(query, dataframe_type="arrow", as_of=as_of)
    state.out.rows(table_data(result, max_rows=max_rows if state.text else None))


# Every other command is imported when it is used (lakebox.cli.lazy): `lakebox fg list` loads
# the feature-group commands only, never the server's, the demo's or the TUI's.
lazy(
    cli,
    {
        "fg": "lakebox.cli.fg:fg",
        "fv": "lakebox.cli.fv:fv",
        "td": "lakebox.cli.fv:td",
        "features": "lakebox.cli.features:features",
        "online": "lakebox.cli.online:online",
        "serve": "lakebox.cli.serve:serve",
        "apikey": "lakebox.cli.serve:apikey",
        "demo": "lakebox.cli.demo:demo",
        "search": "lakebox.cli.catalog:search",
        "lineage": "lakebox.cli.catalog:lineage",
        "tag": "lakebox.cli.catalog:tag",
        "doctor": "lakebox.cli.box:doctor",
        "backup": "lakebox.cli.box:backup",
        "box": "lakebox.cli.box:box",
        "tui": "lakebox.cli.tui:tui",
        "labs": "lakebox.cli.labs:labs",
        "experiments": "lakebox.cli.experiments:experiments",
        "models": "lakebox.cli.experiments:models",
        "train": "lakebox.cli.train:train",  # issue 12 (H12): data parallel on torch's launcher
        "jobs": "lakebox.cli.jobs:jobs",  # issue 14 (H14a): lakebox jobs ..., lakebox scheduler
        "scheduler": "lakebox.cli.jobs:scheduler",
        "deployments": "lakebox.cli.deployments:deployments",  # issue 13 (H13)
        "monitors": "lakebox.cli.monitors:monitors",  # issue 13 (H13)
        "users": "lakebox.cli.users:users",  # issue 15 (H15)
        "audit": "lakebox.cli.users:audit",  # issue 15 (H15)
        "env": "lakebox.cli.env:env",  # issue 15 (H15): lakebox env show|check|diff|export
        "projects": "lakebox.cli.projects:projects",  # issue 15 (H15): lakebox projects list|create
    },
)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``lakebox`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="lakebox")


def _log_to(state: State, level: int, ctx: click.Context) -> None:
    from rich.logging import RichHandler

    logger = logging.getLogger("lakebox")
    handler = RichHandler(console=state.err_console, show_path=False)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    ctx.call_on_close(restore)


__all__ = ["cli", "main"]
