"""``lakebox demo``: build the football demo box and tour what lakebox does with it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pyarrow as pa
import pyarrow.compute as pc
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table

from lakebox.cli.fg import commit_dict, describe
from lakebox.cli.output import format_value, render_commits, render_rows, table_data
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import AlreadyExistsError
from lakebox.timeutil import iso

if TYPE_CHECKING:
    from lakebox.demo import DemoBox, DemoStep

DEFAULT_DEMO_BOX = Path("demo.lakebox")
SHOW_CORRECTIONS = 3


@click.command("demo", short_help="Build a demo box and tour time travel, commits, SQL.")
@click.option(
    "--box",
    "demo_box",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to build the demo box. Default: the global --box if given, else ./demo.lakebox "
    "($LAKEBOX_HOME is ignored, so the demo never writes into your main box).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="If the box already holds the demo's groups (teams, players, games), delete them and "
    "rebuild; other groups in the box are kept. Without it, an existing demo is an error.",
)
@click.option(
    "--days",
    type=click.IntRange(2, 30),
    default=2,
    show_default=True,
    help="Days of data to load: one commit per group and day.",
)
@output_option
@pass_state
def demo(state: State, demo_box: Path | None, fresh: bool, days: int) -> None:
    """Build a small football feature store and show time travel, commits and SQL on it.

    Creates the groups teams, players and games from deterministic data (no download), loads
    two days, or --days (day 2 corrects some day-1 player ratings and adds new snapshots), then shows:
    players as of the day-1 commit vs now, the commit history, an incremental read of what
    day 2 changed, and a SQL aggregate. Takes a few seconds.
    """
    from lakebox.demo import GROUP_NAMES, build_demo_box, delete_demo_groups, demo_groups

    path = demo_box or state.box or DEFAULT_DEMO_BOX
    project = state.connect(path)
    deleted: list[str] = []
    existing = demo_groups(project)
    if existing:
        if not fresh:
            names = ", ".join(f"{g.name} v{g.version}" for g in existing)
            raise AlreadyExistsError(
                f"The box at {project.path} already holds the demo ({names}). Run `lakebox demo --fresh` "
                "to delete and rebuild those groups, or pass --box with another directory.",
                path=str(project.path),
            )
        deleted = delete_demo_groups(project)

    started = time.perf_counter()
    with _progress(state, days * len(GROUP_NAMES)) as on_step:
        built = build_demo_box(project, days=days, on_step=on_step)
    build_s = time.perf_counter() - started

    tour = _tour(built)
    if not state.text:
        state.out.result(
            {
                "box": str(project.path),
                "deleted": deleted,
                "build_seconds": round(build_s, 3),
                "feature_groups": [describe(g) for g in built.groups.values()],
                "commits": _commit_list(built),
                **tour,
            },
            "",
        )
        return
    _print_tour(state, path, deleted, build_s, built, tour)


# -- what the tour shows (plain data) ------------------------------------------------------
def _commit_list(built: DemoBox) -> list[dict[str, Any]]:
    return [
        {"day": day, "group": name, **commit_dict(built.commit(name, day))}
        for day in range(1, built.days + 1)
        for name in built.groups
    ]


def _tour(built: DemoBox) -> dict[str, Any]:
    players = built.groups["players"]
    first = built.commit("players", 1)
    last = built.commit("players", built.days)
    corrections = built.data.corrections[0].head(SHOW_CORRECTIONS)

    first_time, last_time = iso(first.committed_ms), iso(last.committed_ms)
    then = players.read(wallclock_time=first_time, dataframe_type="arrow")
    now = players.read(dataframe_type="arrow")
    travel = []
    for row in corrections.itertuples(index=False):
        travel.append(
            {
                "player_id": int(row.player_id),
                "ts": row.ts.to_pydatetime(),
                "rating_as_of_day_1": _rating(then, int(row.player_id), row.ts.to_pydatetime()),
                "rating_now": _rating(now, int(row.player_id), row.ts.to_pydatetime()),
            }
        )

    changes = players.as_of(last_time, exclude_until=first_time).read(dataframe_type="arrow")
    by_time = changes.group_by("ts").aggregate([([], "count_all")]).sort_by("ts")

    version = players.version
    sql = (
        "SELECT t.team_name, count(*) AS home_games,\n"
        "       CAST(round(avg(g.attendance)) AS BIGINT) AS avg_attendance\n"
        f"FROM games_{version} AS g JOIN teams_{version} AS t ON g.home_team_id = t.team_id\n"
        "GROUP BY t.team_name\nORDER BY avg_attendance DESC\nLIMIT 5"
    )
    result = built.project.get_feature_store().sql(sql, dataframe_type="arrow")
    return {
        "time_travel": {
            "group": players.name,
            "as_of": first_time,
            "as_of_commit": first.commit_id,
            "rows": travel,
        },
        "commit_details": [{"commit_id": k, **v} for k, v in players.commit_details().items()],
        "incremental": {
            "group": players.name,
            "wallclock_time": last_time,
            "exclude_until": first_time,
            "row_count": changes.num_rows,
            "rows_by_event_time": [{"ts": r["ts"], "rows": r["count_all"]} for r in by_time.to_pylist()],
        },
        "sql": {"query": sql, **table_data(result)},
    }


def _rating(table: pa.Table, player_id: int, ts: Any) -> float | None:
    mask = pc.and_(
        pc.equal(table.column("player_id"), player_id),
        pc.equal(table.column("ts"), pa.scalar(ts, table.schema.field("ts").type)),
    )
    ratings = table.filter(mask).column("rating").to_pylist()
    return ratings[0] if ratings else None


# -- rendering --------------------------------------------------------------------------
def _code(code: str, lexer: str) -> Syntax:
    return Syntax(code, lexer, theme="ansi_dark", background_color="default", word_wrap=True)


@contextlib.contextmanager
def _progress(state: State, total: int) -> Iterator[Callable[[DemoStep], None] | None]:
    """A progress bar over the demo's inserts (nothing in JSON mode or off a terminal)."""
    if not state.interactive:
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=state.err_console, transient=True) as progress:
        task = progress.add_task("Building the demo box", total=total)
        done = 0

        def on_step(step: DemoStep) -> None:
            nonlocal done
            progress.update(
                task, completed=done, description=f"Day {step.day}: inserting {step.rows:,} rows into {step.group}"
            )
            done += 1

        yield on_step


def _print_tour(
    state: State, path: Path, deleted: list[str], build_s: float, built: DemoBox, tour: dict[str, Any]
) -> None:
    c = state.console
    if deleted:
        c.print(f"Deleted the previous demo groups: {', '.join(deleted)}.")
    c.print(
        f"[bold green]✓[/] Built the demo box at [bold]{escape(str(path))}[/] in {build_s:.1f} s: "
        f"{built.days} days of football data, one commit per group and day."
    )

    groups = Table(title="Feature groups", title_justify="left")
    for column in ("group", "primary key", "event time", "features", "description"):
        groups.add_column(column, overflow="fold")
    for g in built.groups.values():
        groups.add_row(
            f"{g.name} v{g.version}",
            ", ".join(g.primary_key),
            g.event_time or "-",
            str(len(g.features)),
            escape(g.description),
        )
    c.print(groups)

    commits = Table(title="Commits (one per group and day)", title_justify="left")
    for column in ("day", "group", "commit", "committed on", "inserted", "updated"):
        commits.add_column(column, justify="right" if column in ("day", "commit", "inserted", "updated") else "left")
    for entry in _commit_list(built):
        commits.add_row(
            str(entry["day"]), entry["group"], str(entry["commit_id"]), entry["committedOn"],
            f"{entry['rowsInserted']:,}", f"{entry['rowsUpdated']:,}",
        )  # fmt: skip
    c.print(commits)

    travel = tour["time_travel"]
    as_of = format_value(travel["as_of"])
    c.print(Rule("Time travel", align="left"))
    c.print(
        "Day 2 corrected some day-1 ratings (same player_id and ts, so the commit "
        "[italic]updated[/] rows). Reading [bold]players[/] as of the day-1 commit still shows the old values:"
    )
    c.print(_code(f'players.read(wallclock_time="{as_of}")   # commit {travel["as_of_commit"]}', "python"))
    table = Table(title_justify="left")
    for column in ("player_id", "ts (event time)", f"rating as of commit {travel['as_of_commit']}", "rating now"):
        table.add_column(column, justify="left" if column.startswith("ts") else "right")
    for row in travel["rows"]:
        table.add_row(
            str(row["player_id"]), format_value(row["ts"]),
            format_value(row["rating_as_of_day_1"]), f"[bold]{format_value(row['rating_now'])}[/]",
        )  # fmt: skip
    c.print(table)

    c.print(Rule("Commit history", align="left"))
    c.print(_code("players.commit_details()", "python"))
    c.print(render_commits(tour["commit_details"]))

    inc = tour["incremental"]
    c.print(Rule("Incremental read", align="left"))
    c.print(_code(
        f'players.as_of("{format_value(inc["wallclock_time"])}", exclude_until="{format_value(inc["exclude_until"])}").read()',
        "python",
    ))  # fmt: skip
    parts = ", ".join(f"{r['rows']:,} with event time {format_value(r['ts'])}" for r in inc["rows_by_event_time"])
    c.print(
        f"{inc['row_count']:,} rows changed after day 1: {parts}. "
        "The old event time holds the corrections, the new ones the new snapshots."
    )

    sql = tour["sql"]
    c.print(Rule("SQL over feature groups", align="left"))
    c.print(_code(sql["query"], "sql"))
    c.print(render_rows(sql))

    box = escape(str(path))
    c.print(Rule("Try next", align="left"))
    c.print(f"  lakebox --box {box} fg list")
    c.print(f"  lakebox --box {box} fg show players")
    c.print(f"  lakebox --box {box} fg head players --as-of {travel['as_of_commit']}")
    players = f"players_{built.groups['players'].version}"
    c.print(f'  lakebox --box {box} sql "SELECT position, avg(rating) FROM {players} GROUP BY position"')
