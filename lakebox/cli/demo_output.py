"""How ``lakebox demo`` prints each part of the tour (the text side of ``cli/demo.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table

from lakebox.cli.fg import commit_dict
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
)
from lakebox.cli.state import State

if TYPE_CHECKING:
    from lakebox.demo import DemoBox


def _code(code: str, lexer: str) -> Syntax:
    return Syntax(code, lexer, theme="ansi_dark", background_color="default", word_wrap=True)


def print_tour(
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
    for entry in commit_list(built):
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


def print_training(state: State, training: dict[str, Any]) -> None:
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


def print_reproducibility(state: State, rep: dict[str, Any]) -> None:
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


def print_catalog(state: State, catalog: dict[str, Any]) -> None:
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
        values = {k: v for k, v in (sample or {}).items() if not k.startswith("$")}  # "$row": its position
        row = ", ".join(f"{k}={format_value(instant(v))}" for k, v in values.items())
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


def print_serving(state: State, serving: dict[str, Any]) -> None:
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


def print_next(state: State, path: Path, built: DemoBox, tour: dict[str, Any], total_s: float) -> None:
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


def commit_list(built: DemoBox) -> list[dict[str, Any]]:
    return [
        {"day": day, "group": name, **commit_dict(built.commit(name, day))}
        for day in range(1, built.days + 1)
        for name in built.groups
    ]
