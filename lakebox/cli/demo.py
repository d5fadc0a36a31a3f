"""``lakebox demo``: build the football demo box and tour what lakebox does with it."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from lakebox.cli.demo_deploy import deploy_section
from lakebox.cli.demo_output import (
    commit_list,
    print_catalog,
    print_next,
    print_reproducibility,
    print_serving,
    print_tour,
    print_training,
)
from lakebox.cli.demo_training import training_option, training_section
from lakebox.cli.fg import commit_dict, describe
from lakebox.cli.fv import describe_view
from lakebox.cli.jobs import demo_section as jobs_section
from lakebox.cli.output import (
    table_data,
)
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import AlreadyExistsError, ValidationError
from lakebox.timeutil import iso

if TYPE_CHECKING:
    import pyarrow as pa

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
    from lakebox.extras import require

    for module in ("fastapi", "uvicorn", "httpx"):  # say so before building, not at the serving section
        require(module, "lakebox demo (it serves vectors over HTTP; `bash scripts/install.sh all` installs all it shows)")
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
        print_tour(state, path, deleted, build_s, built, tour)
    with state.busy("Creating a feature view and a training dataset…"):
        training = _training(built)
    if state.text:
        print_training(state, training)
    with state.busy("Inserting a late game and re-reading the training dataset…"):
        reproducible = _reproducibility(built, training)
    if state.text:
        print_reproducibility(state, reproducible)
    with state.busy("Searching, reading statistics, validating a bad batch…"):
        catalog = _catalog(built, training)
    if state.text:
        print_catalog(state, catalog)
    with state.busy("Serving a feature vector in-process and over HTTP…"):
        serving = _serving(built, training, entry={"game_id": reproducible["late_row"]["game_id"]})
    if state.text:
        print_serving(state, serving)
    pipelines = jobs_section(state, built)  # issue 14: a feature pipeline job, backfilled
    trained = training_section(state, built, training)  # lagom, torch.distributed, the model registry
    deployed = deploy_section(state, built, training, trained)  # issue 13: deploy, predict, log, drift
    total_s = time.perf_counter() - started
    if state.text:
        print_next(state, path, built, tour, total_s)
        return
    state.out.result(
        {
            "box": str(project.path),
            "deleted": deleted,
            "build_seconds": round(build_s, 3),
            "total_seconds": round(total_s, 3),
            "feature_groups": [describe(g) for g in built.groups.values()],
            "commits": commit_list(built),
            **tour,
            "feature_view": training["feature_view"],
            "training_dataset": training["training_dataset"],
            "reproducibility": reproducible,
            "catalog": catalog,
            "serving": serving,
            "jobs": pipelines,
            "training": trained,
            "deployment": deployed,
        },
        "",
    )


# -- what the tour shows (plain data) ------------------------------------------------------
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
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pc.and_(
        pc.equal(table.column("player_id"), player_id),
        pc.equal(table.column("ts"), pa.scalar(ts, table.schema.field("ts").type)),
    )
    ratings = table.filter(mask).column("rating").to_pylist()
    return ratings[0] if ratings else None


def _training(built: DemoBox) -> dict[str, Any]:
    """Create the demo's feature view and a training dataset (parquet, test 0.2, seed 42)."""
    import pyarrow as pa

    from lakebox.demo import create_demo_view, frames_checksum

    view = create_demo_view(built)
    version = view.create_training_dataset(
        data_format="parquet", test_size=0.2, seed=42, description="lakebox demo: random 80/20 split"
    )
    info = view.get_training_dataset(version)
    x_train, x_test, y_train, y_test = view.get_training_data(version)
    sample = x_train.head(SHOW_TRAINING_ROWS).join(y_train.head(SHOW_TRAINING_ROWS))  # shown, not used
    sample = sample.round({c: 4 for c in sample.select_dtypes("number").columns})  # keys and times as they are
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
