"""``lakebox demo``: build the football demo box and tour what lakebox does with it."""

from __future__ import annotations

import contextlib
import json
import secrets
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

from lakebox.cli.demo_training import training_option, training_section
from lakebox.cli.fg import commit_dict, describe
from lakebox.cli.fv import describe_view
from lakebox.cli.output import (
    WIDE,
    format_value,
    instant,
    render_commits,
    render_lineage,
    render_rows,
    render_search,
    render_statistics,
    rule_text,
    table_data,
)
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import AlreadyExistsError, ValidationError
from lakebox.timeutil import iso

if TYPE_CHECKING:
    from lakebox.demo import DemoBox, DemoStep

DEFAULT_DEMO_BOX = Path("demo.lakebox")
SHOW_CORRECTIONS = 3
SHOW_TRAINING_ROWS = 3
SHOW_HITS = 6
SEARCH_TEXT = "attend"


@click.command("demo", short_help="Build a demo box and tour it: time travel to serving.")
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
    help="If the box already holds the demo (groups teams, players, games and the feature view "
    "attendance), delete it and rebuild; other assets in the box are kept. Without it, an "
    "existing demo is an error.",
)
@click.option(
    "--days",
    type=click.IntRange(2, 30),
    default=2,
    show_default=True,
    help="Days of data to load: one commit per group and day.",
)
@training_option
@output_option
@pass_state
def demo(state: State, demo_box: Path | None, fresh: bool, days: int) -> None:
    """Build a small football feature store and tour it, from time travel to online serving.

    Creates the groups teams, players and games from deterministic data (no download), loads
    two days, or --days (day 2 corrects some day-1 player ratings and adds new snapshots), then shows:
    players as of the day-1 commit vs now, the commit history, an incremental read of what
    day 2 changed and a SQL aggregate; then a feature view (games joined with their home
    team's features, a scaled budget), a training dataset that stays the same after a late
    row arrives; a catalog search, the statistics of players, a bad batch refused by
    expectations (players keeps them, strict: nothing is written) and the lineage of the
    training dataset; and one feature vector served in-process and over HTTP (a server on a
    free 127.0.0.1 port, with a temporary API key). Takes a few seconds.
    """
    from lakebox.demo import GROUP_NAMES, build_demo_box, delete_demo_groups, demo_groups, demo_views

    started = time.perf_counter()
    path = demo_box or state.box or DEFAULT_DEMO_BOX
    project = state.connect(path)
    deleted: list[str] = []
    existing = [f"{g.name} v{g.version}" for g in demo_groups(project)]
    existing += [f"feature view {v.name} v{v.version}" for v in demo_views(project)]
    if existing:
        if not fresh:
            raise AlreadyExistsError(
                f"The box at {project.path} already holds the demo ({', '.join(existing)}). Run `lakebox demo "
                "--fresh` to delete and rebuild it, or pass --box with another directory.",
                path=str(project.path),
            )
        deleted = delete_demo_groups(project)

    build_started = time.perf_counter()
    with _progress(state, days * len(GROUP_NAMES)) as on_step:
        built = build_demo_box(project, days=days, on_step=on_step)
    build_s = time.perf_counter() - build_started

    with state.busy("Reading time travel, commits and SQL…"):
        tour = _tour(built)
    if state.text:
        _print_tour(state, path, deleted, build_s, built, tour)
    with state.busy("Creating a feature view and a training dataset…"):
        training = _training(built)
    if state.text:
        _print_training(state, training)
    with state.busy("Inserting a late game and re-reading the training dataset…"):
        reproducible = _reproducibility(built, training)
    if state.text:
        _print_reproducibility(state, reproducible)
    with state.busy("Searching, reading statistics, validating a bad batch…"):
        catalog = _catalog(built, training)
    if state.text:
        _print_catalog(state, catalog)
    with state.busy("Serving a feature vector in-process and over HTTP…"):
        serving = _serving(built, training, entry={"game_id": reproducible["late_row"]["game_id"]})
    if state.text:
        _print_serving(state, serving)
    trained = training_section(state, built, training)  # lagom, torch.distributed, the model registry
    total_s = time.perf_counter() - started
    if state.text:
        _print_next(state, path, built, tour, total_s)
        return
    state.out.result(
        {
            "box": str(project.path),
            "deleted": deleted,
            "build_seconds": round(build_s, 3),
            "total_seconds": round(total_s, 3),
            "feature_groups": [describe(g) for g in built.groups.values()],
            "commits": _commit_list(built),
            **tour,
            "feature_view": training["feature_view"],
            "training_dataset": training["training_dataset"],
            "reproducibility": reproducible,
            "catalog": catalog,
            "serving": serving,
            "training": trained,
        },
        "",
    )


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


def _training(built: DemoBox) -> dict[str, Any]:
    """Create the demo's feature view and a training dataset (parquet, test 0.2, seed 42)."""
    from lakebox.demo import create_demo_view, frames_checksum

    view = create_demo_view(built)
    version = view.create_training_dataset(
        data_format="parquet", test_size=0.2, seed=42, description="lakebox demo: random 80/20 split"
    )
    info = view.get_training_dataset(version)
    x_train, x_test, y_train, y_test = view.get_training_data(version)
    sample = x_train.head(SHOW_TRAINING_ROWS).join(y_train.head(SHOW_TRAINING_ROWS)).round(4)  # shown, not used
    return {
        "view": view,
        "feature_view": {
            **{k: v for k, v in describe_view(view).items() if k != "training_datasets"},
            "sql": view.query.to_sql(),
        },
        "training_dataset": {
            "version": version,
            "data_format": info["data_format"],
            "split": info["spec"],
            "row_counts": info["row_counts"],
            "snapshots": info["snapshots"],
            "transformations": info["transformations"],
            "checksum": frames_checksum([x_train, x_test, y_train, y_test]),
            "sample": table_data(pa.Table.from_pandas(sample, preserve_index=False)),
        },
    }


def _reproducibility(built: DemoBox, training: dict[str, Any]) -> dict[str, Any]:
    """Insert a late game, then read the training dataset again: same rows, same checksum."""
    from lakebox.demo import frames_checksum, late_game

    view, dataset = training["view"], training["training_dataset"]
    late = late_game(built)
    commit = built.groups["games"].insert(late)
    frames = view.get_training_data(dataset["version"])
    rows_after = sum(len(f) for f in frames[: len(frames) // 2])
    return {
        "late_row": {**late.iloc[0].to_dict(), "ts": late.iloc[0]["ts"].to_pydatetime()},
        "late_commit": commit_dict(commit),
        "view_rows_now": view.get_batch_data(dataframe_type="arrow").num_rows,
        "training_dataset_version": dataset["version"],
        "rows_before": sum(dataset["row_counts"].values()),
        "rows_after": rows_after,
        "checksum_before": dataset["checksum"],
        "checksum_after": frames_checksum(list(frames)),
    }


def _catalog(built: DemoBox, training: dict[str, Any]) -> dict[str, Any]:
    """A search, the statistics of ``players``, a bad batch refused by expectations (nothing
    written) and the lineage of the training dataset."""
    from lakebox.demo import bad_players, player_expectations

    project, players = built.project, built.groups["players"]
    hits = project.search(SEARCH_TEXT, limit=SHOW_HITS)
    statistics = players.get_statistics()

    players.set_expectations(player_expectations())  # strict (the default): refuse, write nothing
    commits_before = len(players.commits())
    rows_before = players.read(dataframe_type="arrow").num_rows
    try:
        players.insert(bad_players(built))
    except ValidationError as err:
        report = err.report
    else:  # pragma: no cover - the batch breaks the rules by construction
        raise AssertionError("the demo's bad batch was accepted")
    dataset = training["training_dataset"]["version"]
    graph = project.lineage(training["view"].name, kind="training_dataset", version=dataset)
    tree = graph.to_dict()
    for asset_id, asset in graph.nodes.items():
        tree["nodes"][asset_id].update(parent=asset.parent, label=asset.label)
    return {
        "search": {"query": SEARCH_TEXT, "hits": [h.to_dict() for h in hits]},
        "statistics": {
            "group": players.name,
            "version": players.version,
            "commit_id": built.commit("players", built.days).commit_id,
            "statistics": statistics.to_dict(),
            "skipped": [*players.primary_key, *([players.event_time] if players.event_time else [])],
        },
        "validation": {
            "group": players.name,
            "expectations": [e.to_dict() for e in players.expectations],
            "refused": not report.success,
            "report": report.to_dict(),
            "commits_before": commits_before,
            "commits_after": len(players.commits()),
            "rows_before": rows_before,
            "rows_after": players.read(dataframe_type="arrow").num_rows,
        },
        "lineage": {"direction": "both", **tree},
    }


def _serving(built: DemoBox, training: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """One feature vector from the online store in-process, then over HTTP from a server on a
    free loopback port with a temporary read:online API key (revoked afterwards)."""
    import lakebox
    from lakebox.cli.serve import background_server

    project, view = built.project, training["view"]
    local = view.get_feature_vector(entry)  # the first call prepares serving (plan, fitted transformations)
    started = time.perf_counter()
    local = view.get_feature_vector(entry)
    local_ms = (time.perf_counter() - started) * 1000
    key_name = f"demo_{secrets.token_hex(3)}"
    secret = project.create_api_key(key_name, ["read:online"])
    try:
        with background_server(project) as url, lakebox.connect(url, api_key=secret) as remote:
            remote_view = remote.get_feature_store().get_feature_view(view.name, view.version)
            over_http = remote_view.get_feature_vector(entry)  # connects; the server prepares the view
            started = time.perf_counter()
            over_http = remote_view.get_feature_vector(entry)
            http_ms = (time.perf_counter() - started) * 1000
    finally:
        project.revoke_api_key(key_name)
    return {
        "entry": entry,
        "columns": view.serving_columns(),
        "in_process": local,
        "over_http": over_http,
        "equal": local == over_http,
        "url": url,
        "api_key": key_name,
        "in_process_ms": round(local_ms, 3),
        "http_ms": round(http_ms, 3),
    }


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
        c.print(f"Deleted the previous demo: {', '.join(deleted)}.")
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


def _print_training(state: State, training: dict[str, Any]) -> None:
    c = state.console
    view, dataset = training["feature_view"], training["training_dataset"]
    c.print(Rule("Feature view and training dataset", align="left"))
    c.print(
        "A feature view joins each game (the spine: its kick-off time is the event time) with its home "
        "team's features, labels it with the attendance and standard-scales the budget. [bold]teams[/] has "
        "no event time, so it joins on the key; a group with one would join as of each kick-off."
    )
    c.print(_code(
        'games_q = games.select(["game_id", "ts", "home_team_id", "away_team_id", "attendance"])\n'
        'home = teams.select(["budget", "stadium_capacity"])\n'
        'query = games_q.join(home, left_on=["home_team_id"], right_on=["team_id"], prefix="home_")\n'
        f'fv = fs.create_feature_view("{view["name"]}", query=query, labels={json.dumps(view["labels"])},\n'
        f'    transformation_functions={json.dumps(view["transformation_functions"])})\n'
        'fv.create_training_dataset(data_format="parquet", test_size=0.2, seed=42)',
        "python",
    ))  # fmt: skip
    counts = ", ".join(f"{split} [bold]{rows:,}[/]" for split, rows in dataset["row_counts"].items())
    read = ", ".join(f"{s['group']} v{s['version']} @ commit {s['commit_id']}" for s in dataset["snapshots"])
    fitted = ", ".join(
        f"{f['feature']}: {f['function']}(" + ", ".join(f"{k}={v:.4g}" for k, v in f["params"].items()) + ")"
        for f in dataset["transformations"].get("features", [])
    )
    c.print(f"Training dataset [bold]v{dataset['version']}[/] ({dataset['data_format']}): {counts} rows.")
    c.print(f"It pins the snapshots it read: {escape(read)}. Fitted on the train split: {escape(fitted)}.")
    c.print(render_rows(dataset["sample"], title="First rows of the train split (X_train with y_train)"))


def _print_reproducibility(state: State, rep: dict[str, Any]) -> None:
    c = state.console
    late = rep["late_row"]
    c.print(Rule("Reproducible training data", align="left"))
    c.print(
        f"A late game arrives: game {late['game_id']} kicked off at {format_value(late['ts'])} (day 1) but is "
        f"inserted now, as commit {rep['late_commit']['commit_id']} of games. The view now reads "
        f"{rep['view_rows_now']:,} rows; the training dataset does not change:"
    )
    c.print(_code(f"fv.get_training_data({rep['training_dataset_version']})", "python"))
    table = Table(title_justify="left")
    for column in ("", "rows", "checksum"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    table.add_row("when created", f"{rep['rows_before']:,}", rep["checksum_before"])
    table.add_row("after the late game", f"{rep['rows_after']:,}", rep["checksum_after"])
    c.print(table)
    same = rep["rows_before"] == rep["rows_after"] and rep["checksum_before"] == rep["checksum_after"]
    c.print("[bold green]✓ the same rows[/]" if same else "[bold red]✗ the rows differ[/]")


def _print_catalog(state: State, catalog: dict[str, Any]) -> None:
    c = state.console
    search = catalog["search"]
    c.print(Rule("Search", align="left"))
    c.print(
        "Every asset is indexed for full-text search (names, descriptions, feature names, tags), "
        "with prefixes and stemming:"
    )
    c.print(_code(f'project.search("{search["query"]}")', "python"))
    c.print(render_search(search["hits"]))

    stats = catalog["statistics"]
    c.print(Rule("Statistics", align="left"))
    c.print(f"Computed with every commit; these are of {stats['group']} at commit {stats['commit_id']}:")
    c.print(_code(f"{stats['group']}.get_statistics().to_dict()", "python"))
    shown = [f for f in stats["statistics"] if not f.startswith("$") and f not in stats["skipped"]]
    c.print(render_statistics(stats["statistics"], features=shown, compact=c.width < WIDE))
    c.print(f"[dim]Not shown: the key and event time ({', '.join(stats['skipped'])}); `lakebox fg stats "
            f"{stats['group']}` shows every feature, --output json every statistic.[/]")  # fmt: skip

    check = catalog["validation"]
    report = check["report"]
    c.print(Rule("Data validation", align="left"))
    c.print(
        f"Expectations on [bold]{check['group']}[/] check every batch before it is written; strict mode "
        "(the default) refuses a batch that breaks one:"
    )
    rules = ",\n    ".join(f"expect.{rule_text(e)}" for e in check["expectations"])
    c.print(_code(f"players.set_expectations([\n    {rules},\n])\nplayers.insert(bad_batch)", "python"))
    failed = [r for r in report["results"] if not r["success"]]
    c.print(
        f"[bold red]✗ refused[/]: {len(failed)} of {len(report['results'])} expectations failed on "
        f"{report['row_count']} rows (lakebox.ValidationError, with the report):"
    )
    table = Table(title_justify="left")
    for column in ("expectation", "result", "failing rows", "first failing row"):
        table.add_column(column, overflow="fold", justify="right" if column == "failing rows" else "left")
    for result in report["results"]:
        sample = result["sample"][0] if result["sample"] else None
        shown = {k: v for k, v in (sample or {}).items() if not k.startswith("$")}  # "$row": its position
        row = ", ".join(f"{k}={format_value(instant(v))}" for k, v in shown.items())
        table.add_row(
            escape(rule_text(result)),
            "[green]passed[/]" if result["success"] else "[red]failed[/]",
            "-" if result["failed_rows"] is None else f"{result['failed_rows']:,}",
            escape(row),
        )
    c.print(table)
    unchanged = check["commits_before"] == check["commits_after"] and check["rows_before"] == check["rows_after"]
    c.print(
        ("[bold green]✓ nothing written[/]: " if unchanged else "[bold red]✗ the group changed[/]: ")
        + f"{check['commits_after']} commits and {check['rows_after']:,} rows, as before. "
        "The refused report is stored (lakebox fg validations players)."
    )

    c.print(Rule("Lineage", align="left"))
    c.print("Recorded as assets are made, nothing to log: what the training dataset was made from.")
    root = catalog["lineage"]["nodes"][catalog["lineage"]["root"]]
    c.print(_code(f'project.lineage("{root["name"]}", kind="training_dataset", version={root["version"]})', "python"))
    c.print(render_lineage(catalog["lineage"]))


def _print_serving(state: State, serving: dict[str, Any]) -> None:
    c = state.console
    c.print(Rule("Online serving", align="left"))
    c.print(
        f"The same vector, from the online store in this process and over HTTP from a server on "
        f"{serving['url']} (API key {serving['api_key']}, scope read:online, revoked afterwards):"
    )
    c.print(_code(
        f"fv.get_feature_vector({serving['entry']})\n"
        f'remote = lakebox.connect("{serving["url"]}", api_key=secret)\n'
        'remote_fv = remote.get_feature_store().get_feature_view("attendance", 1)\n'
        f"remote_fv.get_feature_vector({serving['entry']})",
        "python",
    ))  # fmt: skip
    table = Table(title_justify="left")
    for column in ("feature", "in-process", "over HTTP"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for name, mine, theirs in zip(serving["columns"], serving["in_process"], serving["over_http"], strict=True):
        table.add_row(escape(name), format_value(mine), format_value(theirs))
    table.add_row(
        "[dim]one lookup[/]", f"[dim]{serving['in_process_ms']:.3f} ms[/]", f"[dim]{serving['http_ms']:.3f} ms[/]"
    )
    c.print(table)
    c.print(
        "[bold green]✓ equal[/] (home_budget is scaled with the parameters fitted for the training dataset)"
        if serving["equal"]
        else "[bold red]✗ the vectors differ[/]"
    )


def _print_next(state: State, path: Path, built: DemoBox, tour: dict[str, Any], total_s: float) -> None:
    c = state.console
    box = escape(str(path))
    c.print(Rule("Try next", align="left"))
    c.print(f"  lakebox --box {box} fg list")
    c.print(f"  lakebox --box {box} fg head players --as-of {tour['time_travel']['as_of_commit']}")
    players = f"players_{built.groups['players'].version}"
    c.print(f'  lakebox --box {box} sql "SELECT position, avg(rating) FROM {players} GROUP BY position"')
    c.print(f"  lakebox --box {box} fv show attendance")
    c.print(f"  lakebox --box {box} td show attendance 1")
    c.print(f"  lakebox --box {box} online status")
    c.print(f"  lakebox --box {box} search attend")
    c.print(f"  lakebox --box {box} fg stats games")
    c.print(f"  lakebox --box {box} fg validations players")
    c.print(f"  lakebox --box {box} lineage games --direction down")
    c.print(f"  lakebox --box {box} apikey create my_app && lakebox --box {box} serve")
    c.print(f"[dim]Demo finished in {total_s:.1f} s.[/]")
