"""``lakebox features``: the query planner from the command line (``fs.get_features``)."""

from __future__ import annotations

from pathlib import Path

import click

from lakebox.cli.files import FORMATS, read_file
from lakebox.cli.output import table_data
from lakebox.cli.state import TIME_OR_COMMIT, State, max_rows_option, output_option, pass_state


@click.command("features", short_help="Point-in-time features by name (the planner).")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "-f",
    "--entity-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The spine: a Parquet or CSV file with the join keys and, for point-in-time values, a "
    "timestamp column (CSV times need an offset, e.g. 2024-08-01T12:00:00Z). Without it, the "
    "groups are joined on their keys directly.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Format of --entity-file; auto decides by the file name (.parquet/.pq, .csv/.tsv, optionally .gz).",
)
@click.option(
    "-e",
    "--event-time",
    metavar="COL",
    default=None,
    help="The spine's time column (default: its only timestamp column).",
)
@click.option(
    "--as-of",
    type=TIME_OR_COMMIT,
    default=None,
    help="Read every group as it was: a commit time (ISO-8601 with an offset, e.g. 2026-01-01T12:00:00Z) "
    "or a commit id (an integer; each group at its own commit of that number). Default: now.",
)
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL the planner compiles instead of running it.")
@max_rows_option
@output_option
@pass_state
def features(
    state: State,
    names: tuple[str, ...],
    entity_file: Path | None,
    fmt: str,
    event_time: str | None,
    as_of: int | str | None,
    show_sql: bool,
    max_rows: int,
) -> None:
    """Look up features NAMES point-in-time correctly for the entities of --entity-file.

    Each name is 'feature', 'group.feature' or 'group:version.feature'; an unqualified name is
    looked up in the latest version of every group. Each group is joined onto the spine on
    its primary key and, when both have times, as of each spine row's time (never a value
    from the future): one output row per spine row, in the spine's order.

    \b
    Example:
      lakebox features budget stadium_capacity --entity-file games.csv
      lakebox features players.rating --entity-file spine.parquet --sql
    """
    if show_sql and as_of is not None:
        raise click.UsageError("--as-of pins the data that is read, not the SQL; drop it with --sql.")
    fs = state.open().get_feature_store()
    spine = read_file(entity_file, fmt) if entity_file is not None else None
    if show_sql:
        sql = fs.get_features_sql(list(names), entity_df=spine, event_time=event_time)
        state.out.sql_text({"features": list(names), "sql": sql})
        return
    with state.busy("Joining features…"):
        result = fs.get_features(
            list(names), entity_df=spine, event_time=event_time, as_of=as_of, dataframe_type="arrow"
        )
    state.out.rows(table_data(result, max_rows=max_rows if state.text else None))
