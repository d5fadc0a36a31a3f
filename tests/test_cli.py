"""The ``lakebox`` command line, run with click's CliRunner against real boxes in tmp_path."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from lakebox.cli import cli, main
from lakebox.demo import generate

# The demo trains models only with the `train` extra (torch and scikit-learn) installed.
TRAINING = all(importlib.util.find_spec(m) is not None for m in ("torch", "sklearn"))
ENV = {"COLUMNS": "200", "LAKEBOX_HOME": None, "NO_COLOR": "1"}


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner(env=ENV).invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def run_json(*args: str | Path, code: int = 0) -> Any:
    return json.loads(run("--output", "json", *args, code=code).stdout)


@pytest.fixture
def box(tmp_path: Path) -> Path:
    path = tmp_path / "box"
    run("init", path)
    return path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """One demo box (and its text tour) shared by the read-only tests of this module."""
    path = tmp_path_factory.mktemp("demo") / "demo.lakebox"
    return path, run("demo", "--box", path)


@pytest.fixture(scope="module")
def demo_box(demo_run: tuple[Path, Result]) -> Path:
    return demo_run[0]


def assert_one_line_error(result: Result, code: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error [{code}] "), lines[0]
    assert "Traceback" not in result.output


# -- init ------------------------------------------------------------------------------------
def test_init_creates_a_box_and_leaves_an_existing_one_alone(tmp_path: Path) -> None:
    path = tmp_path / "new"
    first = run("init", path)
    assert "Created an empty box" in first.stdout
    assert (path / "lakebox.toml").is_file()
    again = run_json("init", path)
    assert again == {"path": str(path.resolve()), "created": False, "feature_groups": 0}


def test_init_defaults_to_the_global_box_option(tmp_path: Path) -> None:
    path = tmp_path / "global"
    assert run_json("--box", path, "init")["created"] is True
    assert (path / "lakebox.toml").is_file()


def test_read_commands_never_create_a_box(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = run("--box", missing, "fg", "list", code=1)
    assert_one_line_error(result, "storage_error")
    assert "lakebox init" in result.stderr
    assert not missing.exists()


# -- demo ------------------------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_demo_tours_time_travel_commits_sql_training_and_serving(demo_run: tuple[Path, Result]) -> None:
    out = demo_run[1].stdout
    for heading in (
        "Feature groups", "Commits", "Time travel", "Commit history", "Incremental read", "SQL",
        "Feature view and training dataset", "Reproducible training data", "Search", "Statistics",
        "Data validation", "Lineage", "Online serving", "Try next",
    ):  # fmt: skip
        assert heading in out
    corrected = generate().corrections[0].iloc[0]
    row = next(line for line in out.splitlines() if line.split("│")[1:2] == [f" {corrected.player_id:>9} "])
    assert str(corrected.old_rating) in row and str(corrected.new_rating) in row
    assert "525 rows changed after day 1" in out
    assert "avg_attendance" in out
    assert "Training dataset v1 (parquet): test 400, train 1,600 rows." in out
    assert "The view now reads 2,001 rows" in out
    assert "✓ the same rows" in out and "✓ equal" in out
    assert "http://127.0.0.1:" in out
    catalog = out[out.index("Search ─") : out.index("Online serving")]
    assert 'project.search("attend")' in catalog and "training_dataset" in catalog and "games:1" in catalog
    assert "players.get_statistics()" in catalog and "rating" in catalog and "defender ×390" in catalog
    assert any(block in catalog for block in "▁▂▃▄▅▆▇█")
    assert "✗ refused: 4 of 4 expectations failed on 5 rows" in catalog and "position=striker" in catalog
    assert "✓ nothing written: 2 commits and 1,000 rows, as before." in catalog
    assert "training dataset attendance v1" in catalog and "↑ materializes: feature view attendance v1" in catalog
    assert "↑ read_snapshot (commit 2): feature group games v1" in catalog
    if not TRAINING:
        assert "bash scripts/install.sh train" in out  # the section says how to enable it
        return
    trained = out[out.index("Experiments: one training function") : out.index("Try next")]
    assert "attendance_gbr_search run 1: 4 trials" in trained and "★" in trained
    assert "attendance_torch_ddp run 1: 2 ranks" in trained
    assert "Best by r2: attendance_model v" in trained and "model attendance_model v" in trained
    assert "↑ trained_on: training dataset attendance v1" in trained and "feature group games v1" in trained


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_demo_json_then_refused_unless_fresh(tmp_path: Path) -> None:
    path = tmp_path / "g.lakebox"
    data = run_json("--box", path, "demo")  # the global --box is the demo's box
    assert data["box"] == str(path.resolve())
    assert [c["group"] for c in data["commits"]] == ["teams", "players", "games"] * 2
    travel = data["time_travel"]["rows"]
    assert all(r["rating_as_of_day_1"] != r["rating_now"] for r in travel)
    assert data["incremental"]["row_count"] == 525
    assert len(data["sql"]["rows"]) == 5

    view = data["feature_view"]
    assert (view["name"], view["labels"], view["transformation_functions"]) == (
        "attendance", ["attendance"], {"home_budget": "standard_scaler"})  # fmt: skip
    dataset = data["training_dataset"]
    assert dataset["row_counts"] == {"test": 400, "train": 1600}
    assert dataset["split"] == {"kind": "random", "test_size": 0.2, "validation_size": None, "seed": 42}
    assert [(s["group"], s["commit_id"]) for s in dataset["snapshots"]] == [("games", 2), ("teams", 2)]
    rep = data["reproducibility"]
    assert rep["late_commit"]["commit_id"] == 3 and rep["view_rows_now"] == 2001
    assert rep["rows_before"] == rep["rows_after"] == 2000
    assert rep["checksum_before"] == rep["checksum_after"] == dataset["checksum"]
    catalog = data["catalog"]
    assert [(h["kind"], h["name"]) for h in catalog["search"]["hits"]][:1] == [("feature", "attendance")]
    assert catalog["statistics"]["statistics"]["$row_count"] == 1000
    assert catalog["statistics"]["statistics"]["rating"]["count"] == 1000
    check = catalog["validation"]
    assert check["refused"] and not check["report"]["success"]
    assert sorted(r["rule"] for r in check["report"]["results"] if not r["success"]) == [
        "between", "between", "in_set", "not_null"]  # fmt: skip
    assert (check["commits_before"], check["rows_before"]) == (check["commits_after"], check["rows_after"]) == (2, 1000)
    lineage = catalog["lineage"]
    assert lineage["nodes"][str(lineage["root"])]["kind"] == "training_dataset"
    assert {e["relation"] for e in lineage["edges"]} == {"materializes", "read_snapshot", "reads"}
    serving = data["serving"]
    assert serving["equal"] and serving["in_process"] == serving["over_http"]
    assert serving["entry"] == {"game_id": 2001} and serving["in_process"][:2] == [1, 2]
    assert "secret" not in json.dumps(data) and "lbk_" not in json.dumps(data)
    trained = data["training"]
    if TRAINING:
        assert [t["status"] for t in trained["search"]["trials"]] == ["finished"] * 4
        assert len(trained["distributed"]["ranks"]) == 2 and trained["feature_groups"] == ["games", "teams"]
        assert [m["name"] for m in trained["models"]] == ["attendance_model"] * 2
    keys = run_json("--box", path, "apikey", "list")["api_keys"]
    assert keys and not any(k["active"] for k in keys)  # the demo's keys (vectors, predictions) were revoked after use

    refused = run("demo", "--box", path, code=1)
    assert_one_line_error(refused, "already_exists")
    assert "--fresh" in refused.stderr and "feature view attendance v1" in refused.stderr
    rebuilt = run("demo", "--box", path, "--fresh", "--no-training")
    assert "Deleted the previous demo: feature view attendance v1, teams v1" in rebuilt.stdout
    assert not TRAINING or "Deleted what the previous demo trained: model attendance_model v1" in rebuilt.stdout
    groups = run_json("--box", path, "fg", "list")["feature_groups"]
    # games has the late game of the reproducibility step as a third commit
    demo_groups = sorted((g["name"], g["commit_count"]) for g in groups if g["name"] in ("games", "players", "teams"))
    assert demo_groups == [("games", 3), ("players", 2), ("teams", 2)]  # (other demo steps add their own groups)
    views = run_json("--box", path, "fv", "list")["feature_views"]
    assert [(v["name"], len(v["training_datasets"])) for v in views] == [("attendance", 1)]


# -- fg list / show / head / commits ----------------------------------------------------------
def test_fg_list(demo_box: Path) -> None:
    text = run("--box", demo_box, "fg", "list").stdout
    assert "players v1" in text and "player_id" in text
    groups = run_json("--box", demo_box, "fg", "list")["feature_groups"]
    assert {"games", "players", "teams"} <= {g["name"] for g in groups}
    teams = next(g for g in groups if g["name"] == "teams")
    assert teams["primary_key"] == ["team_id"] and teams["event_time"] is None


def test_fg_list_on_an_empty_box(box: Path) -> None:
    assert "No feature groups yet" in run("--box", box, "fg", "list").stdout
    assert run_json("--box", box, "fg", "list") == {"feature_groups": []}


def test_fg_show_marks_keys_and_descriptions(demo_box: Path) -> None:
    text = run("--box", demo_box, "fg", "show", "players").stdout
    assert "primary key" in text and "event time" in text and "Scouting rating" in text
    assert "commits: 2" in text
    shown = run_json("--box", demo_box, "fg", "show", "players", "--version", "1")
    assert shown["commit_count"] == 2 and shown["table"] == "players_1"
    by_name = {f["name"]: f for f in shown["features"]}
    assert by_name["player_id"]["primary"] and by_name["ts"]["event_time"]
    assert by_name["rating"]["type"] == "double" and by_name["rating"]["description"]


def test_fg_head_now_and_as_of_a_commit(demo_box: Path) -> None:
    now = run_json("--box", demo_box, "fg", "head", "players", "-n", "3")
    assert now["row_count"] == 1000 and len(now["rows"]) == 3
    assert [c["name"] for c in now["columns"]] == ["player_id", "ts", "team_id", "age", "position", "rating"]
    assert now["rows"][0]["ts"] == "2024-08-01T00:00:00Z"
    then = run_json("--box", demo_box, "fg", "head", "players", "--as-of", "1", "-n", "600", "-o", "json")
    assert then["row_count"] == 500 and len(then["rows"]) == 500
    corrected = generate().corrections[0].iloc[0]
    day1 = {r["player_id"]: r["rating"] for r in then["rows"]}
    assert day1[int(corrected.player_id)] == corrected.old_rating
    text = run("--box", demo_box, "fg", "head", "games", "-n", "2").stdout
    assert "2 of 2,001 rows shown" in text  # 2000 games and the demo's late one


def test_fg_head_as_of_a_time(demo_box: Path) -> None:
    before = run_json("--box", demo_box, "fg", "head", "teams", "--as-of", "2000-01-01T00:00:00Z")
    assert before["row_count"] == 0 and before["rows"] == []
    later = run_json("--box", demo_box, "fg", "head", "teams", "--as-of", "2999-01-01T00:00:00+02:00")
    assert later["row_count"] == 20


def test_fg_head_reads_a_naive_time_as_utc(demo_box: Path) -> None:
    # issue 18: as in hsfs, a time without a zone is UTC
    naive = run("--box", demo_box, "fg", "head", "teams", "--as-of", "2026-01-01T00:00:00").stdout
    aware = run("--box", demo_box, "fg", "head", "teams", "--as-of", "2026-01-01T00:00:00Z").stdout
    assert naive.splitlines()[1:] == aware.splitlines()[1:]  # the same rows (the title echoes the argument)
    result = run("--box", demo_box, "fg", "head", "teams", "--as-of", "yesterday", code=1)
    assert_one_line_error(result, "validation_error")


def test_fg_commits(demo_box: Path) -> None:
    text = run("--box", demo_box, "fg", "commits", "players").stdout
    assert "Commits of players v1" in text
    data = run_json("--box", demo_box, "fg", "commits", "players")
    assert [c["commit_id"] for c in data["commits"]] == [2, 1]
    assert (data["commits"][0]["rowsInserted"], data["commits"][0]["rowsUpdated"]) == (500, 25)
    assert data["commits"][0]["committedOn"].endswith("Z")


# -- errors ----------------------------------------------------------------------------------
def test_unknown_group_is_one_red_line(demo_box: Path) -> None:
    result = run("--box", demo_box, "fg", "show", "player", code=1)
    assert_one_line_error(result, "not_found")
    assert "players" in result.stderr  # the closest name is suggested
    assert result.stdout == ""


def test_unknown_group_as_json(demo_box: Path) -> None:
    error = run_json("--box", demo_box, "fg", "head", "nope", code=1)
    assert error["error"] == "not_found" and "nope" in error["message"]
    # the command-level option works too
    result = run("--box", demo_box, "fg", "commits", "nope", "-o", "json", code=1)
    assert json.loads(result.stdout)["error"] == "not_found"


# -- ingest ----------------------------------------------------------------------------------
def test_ingest_parquet_creates_the_group_then_updates(box: Path, tmp_path: Path) -> None:
    ts = pa.array([1_700_000_000_000_000] * 3, pa.timestamp("us", tz="UTC"))
    table = pa.table({"sensor_id": [1, 2, 3], "ts": ts, "temp": [20.5, 21.0, 19.5]})
    path = tmp_path / "readings.parquet"
    pq.write_table(table, path)
    first = run_json(
        "--box", box, "fg", "ingest", "readings", path, "--primary-key", "sensor_id", "--event-time", "ts",
        "--description", "Temperature readings",
    )  # fmt: skip
    assert first["created"] is True and first["version"] == 1
    assert (first["commit"]["commit_id"], first["commit"]["rowsInserted"]) == (1, 3)

    pq.write_table(table.set_column(2, "temp", pa.array([22.0, 21.0, 19.5])), path)
    again = run("--box", box, "fg", "ingest", "readings", path)  # key and event time come from the group
    assert "commit 2" in again.stdout and "3 updated" in again.stdout

    shown = run_json("--box", box, "fg", "show", "readings")
    assert shown["description"] == "Temperature readings" and shown["commit_count"] == 2
    head = run_json("--box", box, "fg", "head", "readings")
    assert [r["temp"] for r in head["rows"]] == [22.0, 21.0, 19.5]


def test_ingest_csv_with_offsets(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "players.csv"
    path.write_text(
        "player_id,ts,rating,position\n"
        "1,2026-01-01T10:00:00+02:00,71.5,forward\n"
        "2,2026-01-01T10:00:00Z,64.0,defender\n"
        "1,2026-01-02T09:30:00.250-01:00,72.0,forward\n"
    )
    result = run("--box", box, "fg", "ingest", "players", path, "-k", "player_id", "-e", "ts")
    assert "group created" in result.stdout and "3 rows inserted" in result.stdout
    head = run_json("--box", box, "fg", "head", "players")
    assert [(r["player_id"], r["ts"]) for r in head["rows"]] == [
        (1, "2026-01-01T08:00:00Z"),
        (1, "2026-01-02T10:30:00.250000Z"),
        (2, "2026-01-01T10:00:00Z"),
    ]
    assert {c["name"]: c["type"] for c in head["columns"]}["ts"] == "timestamp"


def test_ingest_naive_csv_is_refused_and_writes_nothing(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text("player_id,ts,rating\n1,2026-01-01T10:00:00,71.5\n2,2026-01-01 11:00:00,64.0\n")
    result = run("--box", box, "fg", "ingest", "naive", path, "-k", "player_id", "-e", "ts", code=1)
    assert_one_line_error(result, "timezone_error")
    assert "offset" in result.stderr and "--timezone" in result.stderr
    error = run_json("--box", box, "fg", "ingest", "naive", path, "-k", "player_id", "-e", "ts", code=1)
    assert error["error"] == "timezone_error" and error["details"]["column"] == "ts"
    assert run_json("--box", box, "fg", "list") == {"feature_groups": []}


def test_ingest_naive_csv_with_a_timezone(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "local.csv"
    path.write_text("player_id,ts,rating\n1,2026-07-01T10:00:00,71.5\n2,2026-07-01 11:00:00,64.0\n")
    args = ("--box", box, "fg", "ingest", "local", path, "-k", "player_id", "-e", "ts")
    bad = run(*args, "--timezone", "Mars/Olympus", code=1)
    assert_one_line_error(bad, "timezone_error")
    assert run_json("--box", box, "fg", "list") == {"feature_groups": []}
    done = run_json(*args, "--timezone", "Europe/Oslo")
    assert done["commit"]["rowsInserted"] == 2
    rows = run_json("--box", box, "fg", "head", "local")["rows"]
    assert [r["ts"] for r in rows] == ["2026-07-01T08:00:00Z", "2026-07-01T09:00:00Z"]  # Oslo is UTC+2 in July
    utc = run_json("--box", box, "fg", "ingest", "local", path, "--timezone", "UTC")
    assert utc["commit"]["rowsInserted"] == 2


def test_ingest_a_new_group_needs_a_primary_key(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("team_id,name\n1,Lions\n")
    result = run("--box", box, "fg", "ingest", "teams", path, code=1)
    assert_one_line_error(result, "validation_error")
    assert "primary key" in result.stderr
    assert run_json("--box", box, "fg", "list") == {"feature_groups": []}


def test_ingest_an_unreadable_file(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    assert_one_line_error(run("--box", box, "fg", "ingest", "x", path, "-k", "id", code=1), "validation_error")
    unknown = tmp_path / "data.txt"
    unknown.write_text("id\n1\n")
    result = run("--box", box, "fg", "ingest", "x", unknown, "-k", "id", code=1)
    assert "--format" in result.stderr
    assert run_json("--box", box, "fg", "ingest", "x", unknown, "-k", "id", "--format", "csv")["rows_read"] == 1


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


# -- maintenance and the online store -------------------------------------------------------
def _readings(box: Path, tmp_path: Path, commits: int) -> None:
    """``readings`` (sensor_id, ts, temp): ``commits`` inserts of the same three keys."""
    path = tmp_path / "readings.parquet"
    ts = pa.array([1_700_000_000_000_000 + i for i in range(3)], pa.timestamp("us", tz="UTC"))
    for i in range(commits):
        pq.write_table(pa.table({"sensor_id": [1, 2, 3], "ts": ts, "temp": [20.0 + i, 21.0, 19.5]}), path)
        run("--box", box, "fg", "ingest", "readings", path, "-k", "sensor_id", "-e", "ts")


def test_fg_maintain_applies_retention(box: Path, tmp_path: Path) -> None:
    _readings(box, tmp_path, commits=3)
    kept = run_json("--box", box, "fg", "maintain", "readings", "--no-compact")
    assert kept["expired_commits"] == [] and kept["retention"] is None and kept["compacted"] is None
    report = run_json("--box", box, "fg", "maintain", "readings", "--keep-last", "1", "--max-age-days", "0")
    assert report["expired_commits"] == [1, 2]
    assert report["retention"] == {"max_age_s": 0.0, "keep_last": 1}
    commits = run_json("--box", box, "fg", "commits", "readings")["commits"]
    assert {c["commit_id"]: c["expired"] for c in commits if c["commit_id"] <= 3} == {3: False, 2: True, 1: True}
    expired = run("--box", box, "fg", "head", "readings", "--as-of", "1", code=1)
    assert_one_line_error(expired, "not_found")
    assert "expired" in expired.stderr
    assert [r["temp"] for r in run_json("--box", box, "fg", "head", "readings")["rows"]] == [22.0, 21.0, 19.5]
    text = run("--box", box, "fg", "maintain", "readings").stdout
    assert "no commit expired" in text and "keep the last 1 commit " in text
    assert_one_line_error(run("--box", box, "fg", "maintain", "nope", code=1), "not_found")


def test_fg_online_and_online_status_and_rebuild(box: Path, tmp_path: Path) -> None:
    _readings(box, tmp_path, commits=2)
    assert run_json("--box", box, "online", "status") == {"feature_groups": []}
    assert "No online-enabled feature groups" in run("--box", box, "online", "status").stdout
    not_online = run("--box", box, "online", "rebuild", "readings", code=1)
    assert_one_line_error(not_online, "validation_error")
    assert "enable_online" in not_online.stderr

    enabled = run_json("--box", box, "fg", "online", "readings", "--enable")
    assert enabled == {"name": "readings", "version": 1, "online_enabled": True}
    status = run_json("--box", box, "online", "status")["feature_groups"]
    assert status == [
        {"name": "readings", "version": 1, "keys": 3, "last_commit": 2, "applied_commit": 2, "commits_behind": 0}
    ]
    _readings(box, tmp_path, commits=1)  # applied online by the insert itself
    assert run_json("--box", box, "online", "status")["feature_groups"][0]["applied_commit"] == 3
    assert "readings v1" in run("--box", box, "online", "status").stdout

    rebuilt = run_json("--box", box, "online", "rebuild")
    assert [(r["name"], r["keys"]) for r in rebuilt["rebuilt"]] == [("readings", 3)]
    assert (
        "Rebuilt 1 online table: readings v1 (3 keys)" in run("--box", box, "online", "rebuild", "readings").stdout
    )

    assert run_json("--box", box, "fg", "online", "readings", "--disable")["online_enabled"] is False
    assert run_json("--box", box, "online", "status") == {"feature_groups": []}
    assert "nothing to rebuild" in run("--box", box, "online", "rebuild").stdout
    assert run("--box", box, "fg", "online", "readings", code=2).exit_code == 2  # --enable or --disable


# -- API keys and serve (refusals; the running server is tests/test_cli_serving.py) ----------
def test_apikey_create_list_revoke(box: Path) -> None:
    created = run("--box", box, "apikey", "create", "ci", "--scope", "read:online")
    secret = created.stdout.strip()
    assert secret.startswith("lbk_") and len(created.stdout.splitlines()) == 1  # stdout: the secret alone
    assert "cannot be shown again" in created.stderr
    made = run_json("--box", box, "apikey", "create", "admin_key", "--scope", "admin", "--scope", "read:online")
    assert made["secret"].startswith(made["prefix"] + "_") and "cannot be shown again" in made["warning"]
    assert made["scopes"] == ["admin", "read:online"]

    listed = run_json("--box", box, "apikey", "list")["api_keys"]
    assert [(k["name"], k["active"]) for k in listed] == [("ci", True), ("admin_key", True)]
    assert set(listed[0]) >= {"name", "prefix", "scopes", "created_at", "revoked_at", "active"}
    text = run("--box", box, "apikey", "list").stdout
    for shown in (text, json.dumps(listed)):
        assert secret not in shown and secret.split("_", 2)[2] not in shown
        assert made["secret"].split("_", 2)[2] not in shown

    assert "Revoked API key ci" in run("--box", box, "apikey", "revoke", "ci").stdout
    listed = run_json("--box", box, "apikey", "list")["api_keys"]
    assert listed[0]["active"] is False and listed[0]["revoked_at"]
    assert_one_line_error(run("--box", box, "apikey", "revoke", "ci", code=1), "not_found")
    assert_one_line_error(run("--box", box, "apikey", "create", "admin_key", code=1), "already_exists")
    assert run("--box", box, "apikey", "create", "x", "--scope", "root", code=2).exit_code == 2
    assert "No API keys" in run("--box", run_json("init", box.parent / "other")["path"], "apikey", "list").output


def test_serve_refuses_unsafe_binds(box: Path) -> None:
    exposed = run("serve", box, "--host", "0.0.0.0", code=1)
    assert_one_line_error_after_notes(exposed, "auth_error")
    assert "Refusing to bind 0.0.0.0" in exposed.stderr and "apikey create" in exposed.stderr
    run("--box", box, "apikey", "create", "ops")
    no_auth = run_json("serve", box, "--host", "0.0.0.0", "--no-auth", code=1)
    assert no_auth["error"] == "auth_error" and "loopback" in no_auth["message"]
    missing = run("serve", box.parent / "typo", code=1)
    assert_one_line_error(missing, "storage_error")


def test_serve_help_explains_the_secure_defaults() -> None:
    text = " ".join(run("serve", "--help").stdout.split())
    for part in (
        "127.0.0.1", "0.0.0.0", "anyone on the network", "refused unless API keys exist", "/health",
        "Authorization: Bearer", "--no-auth", "loopback-only development", "--allowed-host", "DNS rebinding",
    ):  # fmt: skip
        assert part in text, part


def assert_one_line_error_after_notes(result: Result, code: str) -> None:
    """``serve`` prints where it starts (and a key hint) before the server refuses."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"Error [{code}] "), result.stderr
    assert any(line.startswith("Starting lakebox for ") for line in lines) and "Traceback" not in result.output


# -- the catalog: search, lineage, statistics, validations, tags --------------------------------
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
    if TRAINING:  # the demo's training section
        expected |= {("training_dataset", "input", "experiment"), ("training_dataset", "trained_on", "model")}
    assert relations >= expected  # (later demo steps, e.g. deployments and monitors, add their own edges)
    assert run_json("--box", demo_box, "lineage", "games", "--direction", "up")["edges"] == []
    assert "No lineage recorded" in run("--box", demo_box, "lineage", "players").stdout
    ambiguous = run("--box", demo_box, "lineage", "attendance", code=1)
    assert_one_line_error(ambiguous, "query_error")
    assert_one_line_error(run("--box", demo_box, "lineage", "nope", code=1), "not_found")
    assert run("--box", demo_box, "lineage", "games", "--direction", "left", code=2).exit_code == 2


def test_fg_stats(demo_box: Path) -> None:
    text = run("--box", demo_box, "fg", "stats", "players").stdout
    assert "Statistics of players v1 at commit 2" in text and "1,000 rows" in text
    assert "defender ×390" in text and any(block in text for block in "▁▂▃▄▅▆▇█")
    assert "$row_count" not in text and "$correlations" not in text
    data = run_json("--box", demo_box, "fg", "stats", "players")
    assert (data["name"], data["version"], data["commit_id"]) == ("players", 1, 2)
    stats = data["statistics"]
    keys = {"count", "null_count", "distinct", "min", "max", "mean", "stddev", "quantiles", "histogram"}
    assert stats["$row_count"] == 1000 and keys <= set(stats["rating"])
    assert stats["$correlations"]["rating"]["rating"] == pytest.approx(1.0)
    first = run_json("--box", demo_box, "fg", "stats", "players", "--commit", "1", "--version", "1")
    assert first["commit_id"] == 1 and first["statistics"]["$row_count"] == 500
    narrow = CliRunner(env={**ENV, "COLUMNS": "80"}).invoke(cli, ["--box", str(demo_box), "fg", "stats", "games"])
    assert narrow.exit_code == 0 and "range" in narrow.stdout and "stddev" not in narrow.stdout
    assert_one_line_error(run("--box", demo_box, "fg", "stats", "players", "--commit", "9", code=1), "not_found")
    assert_one_line_error(run("--box", demo_box, "fg", "stats", "nope", code=1), "not_found")


def test_fg_validations(demo_box: Path) -> None:
    data = run_json("--box", demo_box, "fg", "validations", "players")
    assert data["validation"] == "strict" and [e["rule"] for e in data["expectations"]] == [
        "not_null", "between", "between", "in_set"]  # fmt: skip
    refused = data["reports"][-1]
    assert (refused["commit_id"], refused["success"], refused["mode"]) == (None, False, "strict")
    assert refused["report"]["row_count"] == 5 and refused["report"]["results"][0]["sample"]
    text = run("--box", demo_box, "fg", "validations", "players").stdout
    assert "refused" in text and "✗ failed" in text and "not_null(col='team_id'): 1 of 5 rows" in text
    empty = run("--box", demo_box, "fg", "validations", "teams").stdout
    assert "expectations: none" in empty and "No validation reports yet" in empty
    assert run_json("--box", demo_box, "fg", "validations", "teams")["reports"] == []


def test_tags(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("team_id,name\n1,Lions\n")
    run("--box", box, "fg", "ingest", "teams", path, "-k", "team_id")
    values = {"owner": ("ml_team", "ml_team"), "tier": ("1", 1), "live": ("true", True),
              "conf": ('{"window": [7, 30]}', {"window": [7, 30]}), "note": ("two words", "two words"),
              "quoted": ('"1"', "1")}  # fmt: skip
    for key, (raw, parsed) in values.items():
        added = run_json("--box", box, "tag", "add", "fg", "teams", key, raw)
        assert (added["kind"], added["name"], added["version"], added["key"], added["value"]) == (
            "feature_group", "teams", 1, key, parsed)  # fmt: skip
    assert "✓ teams v1: tag tier = 1" in run("--box", box, "tag", "add", "feature_group", "teams", "tier", "1").stdout
    listed = run_json("--box", box, "tag", "list", "fg", "teams")
    assert listed["tags"] == {key: parsed for key, (_, parsed) in values.items()}
    text = run("--box", box, "tag", "list", "fg", "teams", "--version", "1").stdout
    assert "Tags of feature group teams v1" in text and '{"window": [7, 30]}' in text

    found = run_json("--box", box, "search", "--tag", "tier=1")["hits"]
    assert [(h["kind"], h["name"]) for h in found] == [("feature_group", "teams")]
    assert run_json("--box", box, "search", "--tag", 'tier="1"')["hits"] == []
    assert len(run_json("--box", box, "search", "--tag", "owner", "--tag", "conf")["hits"]) == 1
    assert len(run_json("--box", box, "search", "ml_team")["hits"]) == 1  # tag values are searchable

    removed = run_json("--box", box, "tag", "remove", "fg", "teams", "tier")
    assert "tier" not in removed["tags"] and removed["key"] == "tier"
    assert "removed tag owner" in run("--box", box, "tag", "remove", "fg", "teams", "owner").stdout
    assert_one_line_error(run("--box", box, "tag", "remove", "fg", "teams", "owner", code=1), "not_found")
    assert_one_line_error(run("--box", box, "tag", "add", "fg", "teams", "bad key", "1", code=1), "validation_error")
    assert_one_line_error(run("--box", box, "tag", "list", "fv", "teams", code=1), "not_found")
    assert run("--box", box, "tag", "add", "table", "teams", "k", "1", code=2).exit_code == 2


def test_tags_on_feature_views(demo_box: Path) -> None:
    run("--box", demo_box, "tag", "add", "fv", "attendance", "reviewed_by", "ops")
    try:
        assert run_json("--box", demo_box, "tag", "list", "fv", "attendance")["tags"] == {"reviewed_by": "ops"}
        hits = run_json("--box", demo_box, "search", "--tag", "reviewed_by=ops")["hits"]
        assert [(h["kind"], h["name"]) for h in hits] == [("feature_view", "attendance")]
    finally:
        run("--box", demo_box, "tag", "remove", "fv", "attendance", "reviewed_by")
    assert "has no tags" in run("--box", demo_box, "tag", "list", "fv", "attendance").stdout


# -- help ------------------------------------------------------------------------------------
def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_command_and_option_is_documented() -> None:
    found = list(_commands(cli))
    names = {" ".join(path) for path, _ in found}
    assert {"init", "sql", "demo", "fg", "fg list", "fg show", "fg head", "fg commits", "fg ingest"} <= names
    assert {
        "fg maintain", "fg online", "fv list", "fv show", "td create", "td list", "td show", "features",
        "online rebuild", "online status", "serve", "apikey create", "apikey list", "apikey revoke",
        "search", "lineage", "fg stats", "fg validations", "tag add", "tag list", "tag remove",
    } <= names  # fmt: skip
    for path, command in found:
        assert (command.help or "").strip(), f"`lakebox {' '.join(path)}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"`lakebox {' '.join(path)} {param.opts[0]}` has no help"
        result = run(*path, "--help")
        assert "Usage: " in result.stdout and (command.help or "").split()[0] in result.stdout
        if path:  # the one-line summary in the parent's command list is never cut off
            assert not command.get_short_help_str(limit=60).endswith("..."), path


def test_verbose_logs_to_stderr(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("team_id,name\n1,Lions\n")
    result = run("-v", "--box", box, "fg", "ingest", "teams", path, "-k", "team_id")
    assert "commit 1 inserted 1" in result.stderr
    assert "commit 1" in result.stdout


def test_main_entry_point_reports_its_version() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
