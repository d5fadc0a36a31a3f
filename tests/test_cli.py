"""The ``lakebox`` command line, run with click's CliRunner against real boxes in tmp_path."""

from __future__ import annotations

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
def demo_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One demo box shared by the read-only tests of this module."""
    path = tmp_path_factory.mktemp("demo") / "demo.lakebox"
    run("demo", "--box", path)
    yield path


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
def test_demo_tours_time_travel_commits_and_sql(tmp_path: Path) -> None:
    result = run("demo", "--box", tmp_path / "d.lakebox")
    out = result.stdout
    for heading in ("Feature groups", "Commits", "Time travel", "Commit history", "Incremental read", "SQL"):
        assert heading in out
    corrected = generate().corrections[0].iloc[0]
    row = next(line for line in out.splitlines() if line.split("│")[1:2] == [f" {corrected.player_id:>9} "])
    assert str(corrected.old_rating) in row and str(corrected.new_rating) in row
    assert "525 rows changed after day 1" in out
    assert "avg_attendance" in out


def test_demo_refuses_an_existing_demo_unless_fresh(tmp_path: Path) -> None:
    path = tmp_path / "d.lakebox"
    run("demo", "--box", path)
    refused = run("demo", "--box", path, code=1)
    assert_one_line_error(refused, "already_exists")
    assert "--fresh" in refused.stderr
    rebuilt = run("demo", "--box", path, "--fresh")
    assert "Deleted the previous demo groups" in rebuilt.stdout
    groups = run_json("--box", path, "fg", "list")["feature_groups"]
    assert sorted((g["name"], g["commit_count"]) for g in groups) == [("games", 2), ("players", 2), ("teams", 2)]


def test_demo_uses_the_global_box_when_given(tmp_path: Path) -> None:
    path = tmp_path / "g.lakebox"
    data = run_json("--box", path, "demo")
    assert data["box"] == str(path.resolve())
    assert [c["group"] for c in data["commits"]] == ["teams", "players", "games"] * 2
    travel = data["time_travel"]["rows"]
    assert all(r["rating_as_of_day_1"] != r["rating_now"] for r in travel)
    assert data["incremental"]["row_count"] == 525
    assert len(data["sql"]["rows"]) == 5


# -- fg list / show / head / commits ----------------------------------------------------------
def test_fg_list(demo_box: Path) -> None:
    text = run("--box", demo_box, "fg", "list").stdout
    assert "players v1" in text and "player_id" in text
    groups = run_json("--box", demo_box, "fg", "list")["feature_groups"]
    assert [g["name"] for g in groups] == ["games", "players", "teams"]
    teams = groups[2]
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
    assert "2 of 2000 rows shown" in text


def test_fg_head_as_of_a_time(demo_box: Path) -> None:
    before = run_json("--box", demo_box, "fg", "head", "teams", "--as-of", "2000-01-01T00:00:00Z")
    assert before["row_count"] == 0 and before["rows"] == []
    later = run_json("--box", demo_box, "fg", "head", "teams", "--as-of", "2999-01-01T00:00:00+02:00")
    assert later["row_count"] == 20


def test_fg_head_refuses_a_naive_time(demo_box: Path) -> None:
    result = run("--box", demo_box, "fg", "head", "teams", "--as-of", "2026-01-01T00:00:00", code=1)
    assert_one_line_error(result, "timezone_error")


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
    assert "offset" in result.stderr
    error = run_json("--box", box, "fg", "ingest", "naive", path, "-k", "player_id", "-e", "ts", code=1)
    assert error["error"] == "timezone_error" and error["details"]["column"] == "ts"
    assert run_json("--box", box, "fg", "list") == {"feature_groups": []}


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
    assert "ISO-8601" in refused.stderr
    text = run("--box", demo_box, "sql", "SELECT * FROM games_1", "--max-rows", "3").stdout
    assert "3 of 2000 rows shown" in text
    assert run_json("--box", demo_box, "sql", "SELECT * FROM games_1", "--max-rows", "3")["row_count"] == 2000


def test_sql_errors(demo_box: Path) -> None:
    assert_one_line_error(run("--box", demo_box, "sql", "DROP TABLE players_1", code=1), "query_error")
    assert run_json("--box", demo_box, "sql", "SELECT * FROM nope_1", code=1)["error"] == "query_error"


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
