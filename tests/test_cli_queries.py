"""``lakebox sql``, ``fv``, ``td``, ``features``, ``search`` and ``lineage`` over the demo box (a
module copy, ``conftest.demo_box``), with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cli_run import ENV, assert_one_line_error, run, run_json
from click.testing import CliRunner

from lakebox.cli import cli
from lakebox.demo import generate


# -- sql -------------------------------------------------------------------------------------
def test_sql_text_and_json(demo_box: Path) -> None:
    query = "SELECT position, count(*) AS n FROM players_1 GROUP BY position ORDER BY position"
    text = run("--box", demo_box, "sql", query).stdout
    assert "goalkeeper" in text and "position" in text
    data = run_json("--box", demo_box, "sql", query)
    assert [c["name"] for c in data["columns"]] == ["position", "n"]
    assert sum(r["n"] for r in data["rows"]) == 1000


def test_sql_as_of_and_row_limit(demo_box: Path) -> None:
    count = "SELECT count(*) AS n FROM players"
    first = min(run_json("--box", demo_box, "fg", "commits", "players")["commits"], key=lambda c: c["commit_id"])
    assert run_json("--box", demo_box, "sql", count, "--as-of", first["committedOn"])["rows"] == [{"n": 500}]
    refused = run("--box", demo_box, "sql", count, "--as-of", "1", code=1)
    assert "--as-of takes a time" in refused.stderr  # commit ids are per group; sql reads several
    text = run("--box", demo_box, "sql", "SELECT * FROM players_1", "--max-rows", "3").stdout
    assert "3 of 1,000 rows shown" in text
    assert run_json("--box", demo_box, "sql", "SELECT * FROM players_1", "--max-rows", "3")["row_count"] == 1000


def test_sql_errors(demo_box: Path) -> None:
    assert_one_line_error(run("--box", demo_box, "sql", "DROP TABLE players_1", code=1), "query_error")
    assert run_json("--box", demo_box, "sql", "SELECT * FROM nope_1", code=1)["error"] == "query_error"


# -- feature views and training datasets -----------------------------------------------------
def test_fv_list_and_show(demo_box: Path) -> None:
    text = run("--box", demo_box, "fv", "list").stdout
    assert "attendance v1" in text and "games v1, teams v1" in text
    views = run_json("--box", demo_box, "fv", "list")["feature_views"]
    assert [(v["name"], v["version"], v["labels"]) for v in views] == [("attendance", 1, ["attendance"])]

    shown = run_json("--box", demo_box, "fv", "show", "attendance", "--version", "1")
    roles = {c["name"]: (c["role"], c["transformation"]) for c in shown["columns"]}
    # the demo view selects model features only; its key and event time are helper columns (issue 18, hsfs)
    assert "game_id" not in roles and roles["home_team_id"] == ("feature", None)
    assert roles["attendance"] == ("label", None) and roles["home_budget"] == ("feature", "standard_scaler")
    assert shown["groups"] == [{"name": "games", "version": 1}, {"name": "teams", "version": 1}]
    assert [d["version"] for d in shown["training_datasets"]][:1] == [1]
    text = run("--box", demo_box, "fv", "show", "attendance").stdout
    assert "standard_scaler" in text and "Training datasets" in text and "label" in text


def test_fv_errors_and_empty_box(box: Path, demo_box: Path) -> None:
    assert "No feature views yet" in run("--box", box, "fv", "list").stdout
    assert run_json("--box", box, "fv", "list") == {"feature_views": []}
    result = run("--box", demo_box, "fv", "show", "attendence", code=1)
    assert_one_line_error(result, "not_found")
    assert "attendance" in result.stderr
    assert run_json("--box", demo_box, "td", "show", "attendance", "99", code=1)["error"] == "not_found"


def test_td_show_has_splits_snapshots_transformations_and_statistics(demo_box: Path) -> None:
    shown = run_json("--box", demo_box, "td", "show", "attendance", "1", "--view-version", "1")
    assert shown["row_counts"] == {"test": 400, "train": 1600}
    assert [(s["group"], s["commit_id"]) for s in shown["snapshots"]] == [("games", 2), ("teams", 2)]
    assert shown["transformations"]["features"][0]["function"] == "standard_scaler"
    assert shown["statistics_split"] == "train"
    assert abs(shown["statistics"]["train"]["home_budget"]["mean"]) < 1e-9  # scaled on the train split
    assert all(Path(f).is_file() for f in shown["files"].values())
    text = run("--box", demo_box, "td", "show", "attendance", "1").stdout
    for part in (
        "Rows per split",
        "1,600",
        "Snapshots read",
        "games v1",
        "standard_scaler",
        "Statistics of the train split",
    ):
        assert part in text, part


def test_td_create_and_list(demo_box: Path) -> None:
    created = run_json(
        "--box", demo_box, "td", "create", "attendance", "--format", "csv", "--test-size", "0.2",
        "--validation-size", "0.1", "--seed", "7", "--start", "2024-08-02T00:00:00Z", "--description", "day 2",
    )  # fmt: skip
    assert created["data_format"] == "csv" and created["description"] == "day 2"
    assert sum(created["row_counts"].values()) == 1000  # day 2's games (the late game is on day 1)
    assert set(created["row_counts"]) == {"train", "validation", "test"}
    # the late game is commit 3 of games: a new dataset reads it, the demo's v1 still pins commit 2
    assert [(s["group"], s["commit_id"]) for s in created["snapshots"]] == [("games", 3), ("teams", 2)]
    listed = run_json("--box", demo_box, "td", "list", "attendance")
    versions = {d["version"]: d for d in listed["training_datasets"]}
    assert versions[1]["row_counts"] == {"test": 400, "train": 1600}
    assert versions[created["version"]]["data_format"] == "csv"
    text = run("--box", demo_box, "td", "list", "attendance").stdout
    assert "random: test 0.2, validation 0.1, seed 7" in text
    plain = run("--box", demo_box, "td", "create", "attendance", "--end", "2024-08-01T12:00:00Z").stdout
    assert "training dataset v" in plain and "all" in plain and "lakebox td show attendance" in plain


def test_td_create_refuses_bad_input_and_writes_nothing(demo_box: Path) -> None:
    before = len(run_json("--box", demo_box, "td", "list", "attendance")["training_datasets"])
    bad = run("--box", demo_box, "td", "create", "attendance", "--validation-size", "0.1", code=1)
    assert_one_line_error(bad, "validation_error")
    not_a_time = run("--box", demo_box, "td", "create", "attendance", "--start", "sometime", code=1)
    assert_one_line_error(not_a_time, "validation_error")  # (a naive time is UTC since issue 18)
    assert run("--box", demo_box, "td", "create", "attendance", "--test-size", "1.5", code=2).exit_code == 2
    assert len(run_json("--box", demo_box, "td", "list", "attendance")["training_datasets"]) == before


# -- features (the planner) ------------------------------------------------------------------
def test_features_point_in_time_from_an_entity_file(demo_box: Path, tmp_path: Path) -> None:
    spine = tmp_path / "spine.csv"
    spine.write_text(
        "player_id,ts\n1,2024-08-01T12:00:00Z\n1,2024-08-02T12:00:00Z\n1,2024-07-01T00:00:00Z\n2,2024-08-02T00:00:00Z\n"
    )
    data = run_json("--box", demo_box, "features", "rating", "players.team_id", "--entity-file", spine)
    assert [c["name"] for c in data["columns"]] == ["player_id", "ts", "rating", "team_id"]
    players = generate().players
    day1 = players[0].set_index("player_id")
    day2 = players[1][players[1]["ts"] == players[1]["ts"].max()].set_index("player_id")
    ratings = [r["rating"] for r in data["rows"]]
    corrected = generate().corrections[0].set_index("player_id")["new_rating"]
    assert ratings[0] == corrected.get(1, day1.loc[1, "rating"])  # day-1 snapshot (as corrected on day 2)
    assert ratings[1] == day2.loc[1, "rating"] and ratings[3] == day2.loc[2, "rating"]
    assert ratings[2] is None  # before any snapshot: never a value from the future
    before = run_json("--box", demo_box, "features", "rating", "-f", spine, "--as-of", "2000-01-01T00:00:00Z")
    assert [r["rating"] for r in before["rows"]] == [None] * 4
    text = run("--box", demo_box, "features", "rating", "-f", spine, "-n", "2").stdout
    assert "2 of 4 rows shown" in text


def test_features_without_a_spine_and_as_sql(demo_box: Path, tmp_path: Path) -> None:
    teams = run_json("--box", demo_box, "features", "budget", "city")
    assert teams["row_count"] == 20 and [c["name"] for c in teams["columns"]] == ["team_id", "budget", "city"]
    spine = tmp_path / "spine.parquet"
    ts = pa.array([1_722_470_400_000_000], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"team_id": [1], "when": ts, "other_ts": ts}), spine)
    sql = run_json("--box", demo_box, "features", "teams.budget", "-f", spine, "--event-time", "when", "--sql")
    assert sql["features"] == ["teams.budget"] and '"teams_1"' in sql["sql"] and "JOIN" in sql["sql"]
    assert "teams_1" in run("--box", demo_box, "features", "budget", "-f", spine, "-e", "when", "--sql").stdout
    assert (
        run("--box", demo_box, "features", "budget", "--sql", "--as-of", "2024-01-01T00:00:00Z", code=2).exit_code == 2
    )


def test_features_errors(demo_box: Path, tmp_path: Path) -> None:
    unknown = run("--box", demo_box, "features", "ratting", code=1)
    assert_one_line_error(unknown, "not_found")
    assert "rating" in unknown.stderr
    bad_name = run_json("--box", demo_box, "features", "players.Rating", code=1)
    assert bad_name["error"] == "validation_error"
    spine = tmp_path / "spine.txt"
    spine.write_text("team_id,ts\n1,2024-08-01T12:00:00\n")
    assert "--format" in run("--box", demo_box, "features", "budget", "-f", spine, code=1).stderr
    naive = run("--box", demo_box, "features", "budget", "-f", spine, "--format", "csv", code=1)
    assert_one_line_error(naive, "timezone_error")


# -- the catalog: search, lineage, tags on views ---------------------------------------------
def test_search(demo_box: Path) -> None:
    text = run("--box", demo_box, "search", "attend").stdout
    assert "Search 'attend':" in text and "training_dataset" in text and "games:1" in text
    data = run_json("--box", demo_box, "search", "attend")
    assert data["query"] == "attend" and data["limit"] == 20
    hits = data["hits"]
    assert ("feature_view", "attendance") in [(h["kind"], h["name"]) for h in hits]
    assert all({"kind", "name", "version", "parent", "score", "snippet", "tags"} <= set(h) for h in hits)
    assert any("[attendance]" in h["snippet"] for h in hits)
    views = run_json("--box", demo_box, "search", "attend", "--kind", "feature_view", "-k", "training_dataset")
    assert {h["kind"] for h in views["hits"]} == {"feature_view", "training_dataset"}
    assert len(run_json("--box", demo_box, "search", "a", "-n", "2")["hits"]) == 2
    assert run_json("--box", demo_box, "search", "zzzz")["hits"] == []
    assert "Nothing found for 'zzzz'" in run("--box", demo_box, "search", "zzzz").stdout
    for nasty in ('"NEAR(', "*", "OR", "-x", "^", "x" * 5000):
        result = CliRunner(env=ENV).invoke(cli, ["--box", str(demo_box), "-o", "json", "search", "--", nasty])
        assert result.exit_code in (0, 1) and "Traceback" not in result.output
        if result.exit_code:
            assert json.loads(result.stdout)["error"] == "validation_error"


def test_search_errors(demo_box: Path) -> None:
    assert_one_line_error(run("--box", demo_box, "search", code=1), "validation_error")
    assert_one_line_error(run("--box", demo_box, "search", "  ", code=1), "validation_error")
    assert run("--box", demo_box, "search", "x", "--kind", "table", code=2).exit_code == 2
    assert run("--box", demo_box, "search", "x", "-n", "0", code=2).exit_code == 2
    mixed = run("--box", demo_box, "search", "x", "--tag", "a=1", "--tag", "b", code=2)
    assert "KEY=VALUE" in mixed.stderr


def test_lineage(demo_box: Path) -> None:
    text = run("--box", demo_box, "lineage", "attendance", "--kind", "training_dataset", "--version", "1").stdout
    lines = text.splitlines()
    assert lines[0] == "training dataset attendance v1"
    assert "↑ materializes: feature view attendance v1" in text and "↑ reads: feature group games v1" in text
    assert "↑ read_snapshot (commit 2): feature group teams v1" in text
    data = run_json("--box", demo_box, "lineage", "games", "--direction", "down")
    root = data["nodes"][str(data["root"])]
    assert (root["kind"], root["name"], root["label"], data["direction"]) == (
        "feature_group", "games", "feature_group games v1", "down")  # fmt: skip
    relations = {(data["nodes"][str(e["src"])]["kind"], e["relation"], data["nodes"][str(e["dst"])]["kind"])
                 for e in data["edges"]}  # fmt: skip
    expected = {
        ("feature_group", "reads", "feature_view"),
        ("feature_view", "materializes", "training_dataset"),
        ("feature_group", "read_snapshot", "training_dataset"),
    }
    # (later demo steps, e.g. deployments and monitors, add their own edges; the training section's
    # edges are checked on the trained demo by test_cli.py's tour)
    assert relations >= expected
    assert run_json("--box", demo_box, "lineage", "games", "--direction", "up")["edges"] == []
    assert "No lineage recorded" in run("--box", demo_box, "lineage", "players").stdout
    ambiguous = run("--box", demo_box, "lineage", "attendance", code=1)
    assert_one_line_error(ambiguous, "query_error")
    assert_one_line_error(run("--box", demo_box, "lineage", "nope", code=1), "not_found")
    assert run("--box", demo_box, "lineage", "games", "--direction", "left", code=2).exit_code == 2


def test_tags_on_feature_views(demo_box: Path) -> None:
    run("--box", demo_box, "tag", "add", "fv", "attendance", "reviewed_by", "ops")
    try:
        assert run_json("--box", demo_box, "tag", "list", "fv", "attendance")["tags"] == {"reviewed_by": "ops"}
        hits = run_json("--box", demo_box, "search", "--tag", "reviewed_by=ops")["hits"]
        assert [(h["kind"], h["name"]) for h in hits] == [("feature_view", "attendance")]
    finally:
        run("--box", demo_box, "tag", "remove", "fv", "attendance", "reviewed_by")
    assert "has no tags" in run("--box", demo_box, "tag", "list", "fv", "attendance").stdout


