"""``lakebox fg ...``: list, show, read and ingest feature groups."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lakebox.cli.files import FORMATS, detect_format, read_file
from lakebox.cli.formats import number, plural
from lakebox.cli.lazy import lazy
from lakebox.cli.output import table_data
from lakebox.cli.state import TIME_OR_COMMIT, State, output_option, pass_state
from lakebox.errors import TimezoneError
from lakebox.timeutil import iso

if TYPE_CHECKING:
    import pyarrow as pa

    from lakebox.feature_group import Commit, FeatureGroup

VERSION_HELP = "Feature group version (default: the latest)."


@click.group("fg", short_help="Feature groups: list, show, head, ingest, stats, maintain.")
def fg() -> None:
    """Feature groups: versioned, time-travelling tables of features.

    Each group has a primary key and, optionally, an event time; every insert is one commit.
    """


@fg.command("list", short_help="List the feature groups.")
@output_option
@pass_state
def list_groups(state: State) -> None:
    """List every feature group of the box, with keys and commit counts."""
    project = state.open()
    with state.busy("Reading the catalog…"):
        groups = project.describe_feature_groups()  # the catalog only: no Iceberg, DuckDB or pandas
    state.out.groups(groups)


@fg.command("show", short_help="Show a group's schema, keys and commits.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def show(state: State, name: str, version: int | None) -> None:
    """Show NAME's schema (types, descriptions, keys), its description and commit count."""
    state.out.group(state.open().describe_feature_group(name, version))  # the catalog only


@fg.command("head", short_help="Show the first rows, now or as of a commit.")
@click.argument("name")
@click.option("-n", "--rows", "n", type=click.IntRange(min=0), default=10, show_default=True, help="Rows to show.")
@click.option(
    "--as-of",
    type=TIME_OR_COMMIT,
    default=None,
    help="Read the group as it was: a commit id (an integer) or a commit time as ISO-8601 with an "
    "offset, e.g. 2026-01-01T12:00:00Z. Default: now.",
)
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def head(state: State, name: str, n: int, as_of: int | str | None, version: int | None) -> None:
    """Show the first rows of NAME (ordered by primary key and event time), now or --as-of a commit."""
    group = state.open().get_feature_store().get_feature_group(name, version)
    with state.busy(f"Reading {group.name} v{group.version}…"):
        rows = group.read(wallclock_time=as_of, dataframe_type="arrow")
    data = {"name": group.name, "version": group.version, "as_of": as_of, **table_data(rows, max_rows=n)}
    title = f"{group.name} v{group.version}" + (f" as of {as_of}" if as_of is not None else "")
    state.out.rows(data, title=title)


@fg.command("commits", short_help="List a group's commits, newest first.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def commits(state: State, name: str, version: int | None) -> None:
    """List NAME's commits, newest first: time, kind and rows inserted, updated and deleted."""
    state.out.commits(state.open().describe_commits(name, version))  # the catalog only


@fg.command("ingest", short_help="Insert a Parquet or CSV file as one commit.")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-k",
    "--primary-key",
    "primary_key",
    multiple=True,
    metavar="COL",
    help="Primary key column; repeat for a composite key. Required when the group does not exist yet.",
)
@click.option(
    "-e",
    "--event-time",
    metavar="COL",
    default=None,
    help="Event time column (timezone-aware timestamps). Omit for a group that keeps one row per key.",
)
@click.option(
    "--version",
    type=click.IntRange(min=1),
    default=None,
    help="Feature group version (default: the latest, or 1 for a new group).",
)
@click.option("--description", default="", help="Description of the group, used when it is created.")
@click.option(
    "--timezone",
    metavar="ZONE",
    default=None,
    help="The time zone of naive timestamps (no offset) in FILE: UTC or an IANA name such as Europe/Oslo. "
    "Without it, naive timestamps are refused rather than guessed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="File format; auto decides by the file name (.parquet/.pq, .csv/.tsv, optionally .gz).",
)
@output_option
@pass_state
def ingest(
    state: State,
    name: str,
    file: Path,
    primary_key: tuple[str, ...],
    event_time: str | None,
    version: int | None,
    description: str,
    timezone: str | None,
    fmt: str,
) -> None:
    """Insert a Parquet or CSV FILE into feature group NAME as one commit.

    The group is created if it does not exist (its schema comes from the file). Rows whose
    primary key and event time already exist replace the stored ones; others are appended.
    Timestamps need an offset (2026-01-01T10:00:00+02:00 or ...Z), or --timezone to say which
    zone naive ones are in: lakebox refuses naive times instead of guessing a zone. Nothing is
    written if anything fails.

    \b
    Example:
      lakebox fg ingest players players.csv --primary-key player_id --event-time ts
      lakebox fg ingest readings local.csv -k sensor_id -e ts --timezone Europe/Oslo
    """
    fs = state.open().get_feature_store()
    existing = fs.get_feature_groups(name)  # checks the name before the file is read
    if version is None:
        version = max((g.version for g in existing), default=1)
    created = not any(g.version == version for g in existing)
    kind = detect_format(file, fmt)

    started = time.perf_counter()
    table = _read_with_progress(state, file, kind)
    read_s = time.perf_counter() - started
    import pyarrow as pa

    naive = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is None]
    if naive and timezone is None:
        raise TimezoneError(
            f"Column {naive[0]!r} of {file.name} holds naive timestamps (no offset). Say which zone they are in "
            "with --timezone (e.g. --timezone UTC or --timezone Europe/Oslo), or write every timestamp with an "
            "offset, e.g. 2026-01-01T10:00:00Z or 2026-01-01T12:00:00+02:00.",
            column=naive[0],
        )

    group = fs.get_or_create_feature_group(
        name, version, primary_key=list(primary_key) or None, event_time=event_time, description=description
    )
    try:
        with state.busy(f"Committing {plural(table.num_rows, 'row')} to {group.name} v{group.version}…"):
            commit = group.insert(table, timezone=timezone)
    except Exception as err:
        if created:  # an ingest that fails leaves nothing behind, not even an empty group
            group.delete()
        if isinstance(err, TimezoneError) and kind == "csv":
            raise TimezoneError(
                f"{err.message} In a CSV file, write every timestamp with an offset, e.g. "
                "2026-01-01T10:00:00Z or 2026-01-01T12:00:00+02:00.",
                **err.details,
            ) from err
        raise

    data = {
        "name": group.name,
        "version": group.version,
        "created": created,
        "file": str(file),
        "rows_read": table.num_rows,
        "commit": commit_dict(commit),
    }
    from rich.markup import escape

    message = (
        f"[green]✓[/] {group.name} v{group.version}: commit {commit.commit_id}, "
        f"{plural(commit.rows_inserted, 'row')} inserted, {number(commit.rows_updated)} updated"
        + (" (group created)" if created else "")
        + f". Read {plural(table.num_rows, 'row')} from {escape(file.name)} in {read_s:.1f} s."
    )
    state.out.result(data, message)


@fg.command("maintain", short_help="Expire old commits, compact, delete unused files.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    default=None,
    help="Retention: always keep at least the newest N commits readable.",
)
@click.option(
    "--max-age-days",
    type=click.FloatRange(min=0),
    default=None,
    help="Retention: keep every commit younger than D days readable (time travel); older ones expire.",
)
@click.option("--no-compact", is_flag=True, help="Skip rewriting small data files into large ones.")
@output_option
@pass_state
def maintain(
    state: State, name: str, version: int | None, keep_last: int | None, max_age_days: float | None, no_compact: bool
) -> None:
    """Apply NAME's retention policy, compact its files and delete files nothing references.

    With --keep-last and/or --max-age-days the group's retention policy is set first (it
    replaces the stored one and applies after every later commit too); without them the stored
    policy is applied, and a group without one keeps its whole history. Commits pinned by a
    training dataset are never expired. Expired commits can no longer be read with --as-of.

    \b
    Example:
      lakebox fg maintain players --keep-last 10 --max-age-days 30
    """
    group = state.open().get_feature_store().get_feature_group(name, version)
    if keep_last is not None or max_age_days is not None:
        max_age = timedelta(days=max_age_days) if max_age_days is not None else None
        group.set_retention(max_age=max_age, keep_last=keep_last)
    with state.busy(f"Maintaining {group.name} v{group.version}…"):
        report = group.maintain(compact=not no_compact)
    data = {"name": group.name, "version": group.version, "retention": group.retention, **report}
    expired = report["expired_commits"]
    policy = group.retention
    if policy:
        rule = f"retention: keep the last {plural(policy.get('keep_last') or 1, 'commit')}"
        if policy.get("max_age_s") is not None:
            rule += f" and every commit younger than {plural(policy['max_age_s'] / 86400, 'day')}"
    else:
        rule = "no retention policy: the whole history is kept"
    compacted = (
        f"compacted into commit {report['compacted']}" if report["compacted"] is not None else "nothing to compact"
    )
    message = (
        f"[green]✓[/] {group.name} v{group.version}: "
        + (f"expired {plural(len(expired), 'commit')} {expired}" if expired else "no commit expired")
        + f", {compacted}, deleted {plural(report['deleted_files'], 'unreferenced file')}.\n  {rule}."
    )
    state.out.result(data, message)


@fg.command("online", short_help="Serve a group online (or stop serving it).")
@click.argument("name")
@click.option("--enable/--disable", "enable", default=None, help="Start (backfilling it) or stop serving NAME online.")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def online(state: State, name: str, enable: bool | None, version: int | None) -> None:
    """Enable or disable online serving of NAME (the latest row per key, in the online store).

    --enable backfills the online store from the offline store; --disable drops the group's
    online table (feature views that serve its features stop working).
    """
    if enable is None:
        raise click.UsageError("Pass --enable or --disable.")
    group = state.open().get_feature_store().get_feature_group(name, version)
    if enable:
        with state.busy(f"Backfilling {group.name} v{group.version} into the online store…"):
            group.enable_online()
        message = f"[green]✓[/] {group.name} v{group.version} is served online."
    else:
        group.disable_online()
        message = (
            f"[green]✓[/] {group.name} v{group.version} is no longer served online (its online table was dropped)."
        )
    state.out.result({"name": group.name, "version": group.version, "online_enabled": group.online_enabled}, message)


@fg.command("stats", short_help="Show a group's statistics per feature at a commit.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@click.option(
    "--commit", "commit_id", type=click.IntRange(min=1), default=None,
    help="Statistics of the data as of this commit id (default: the latest commit).",
)  # fmt: skip
@output_option
@pass_state
def stats(state: State, name: str, version: int | None, commit_id: int | None) -> None:
    """Show NAME's statistics per feature as of a commit: count, nulls, approximate distinct
    values, min, max, mean, standard deviation, median and a histogram (the top value for strings).

    Statistics are computed after every commit (unless the group was created with
    statistics=False) and stored; older commits, or groups without them, are computed now.
    --output json has every statistic, including all quantiles and numeric correlations.

    \b
    Example:
      lakebox fg stats players --commit 1
    """
    group = state.open().get_feature_store().get_feature_group(name, version)
    with state.busy(f"Reading the statistics of {group.name} v{group.version}…"):
        statistics = group.get_statistics(commit_id)
    if commit_id is None:
        commit_id = group.commits()[-1].commit_id
    state.out.statistics(
        {"name": group.name, "version": group.version, "commit_id": commit_id, "statistics": statistics.to_dict()}
    )


@fg.command("validations", short_help="Show a group's expectations and validation reports.")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), default=None, help=VERSION_HELP)
@output_option
@pass_state
def validations(state: State, name: str, version: int | None) -> None:
    """Show NAME's expectations, its validation mode and every stored validation report, oldest
    first: the commit it checked ("refused" when strict validation wrote nothing), when, the
    mode, the outcome and the rules that failed. --output json adds samples of failing rows.
    """
    group = state.open().get_feature_store().get_feature_group(name, version)
    state.out.validations(
        {
            "name": group.name,
            "version": group.version,
            "validation": group.validation,
            "expectations": [e.to_dict() for e in group.expectations],
            "reports": group.get_validation_reports(),
        }
    )


# -- helpers ------------------------------------------------------------------------------
def describe(group: FeatureGroup) -> dict[str, Any]:
    """A feature group as plain data (what ``fg list`` and ``fg show`` render)."""
    return group.describe()


def commit_dict(commit: Commit) -> dict[str, Any]:
    """A commit in the ``commit_details`` shape, with its id."""
    return {
        "commit_id": commit.commit_id,
        "committedOn": iso(commit.committed_ms),
        "kind": commit.kind,
        "rowsInserted": commit.rows_inserted,
        "rowsUpdated": commit.rows_updated,
        "rowsDeleted": commit.rows_deleted,
    }


def _read_with_progress(state: State, file: Path, kind: str) -> pa.Table:
    if not state.interactive:
        return read_file(file, kind)
    from rich.markup import escape
    from rich.progress import (  # loaded when a bar is shown: the other fg commands start faster
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    unit = DownloadColumn() if kind == "csv" else MofNCompleteColumn()
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        unit,
        TextColumn("rows" if kind == "parquet" else ""),
        TimeElapsedColumn(),
        console=state.err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"Reading {escape(file.name)}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return read_file(file, kind, advance)


# issue 14 (H14b): lakebox fg external / fg import, imported when used (lakebox.cli.lazy)
lazy(fg, {"external": "lakebox.cli.external:fg_external", "import": "lakebox.cli.external:fg_import"})
