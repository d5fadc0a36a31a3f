"""``lakebox fg ...`` (list, show, head, commits, ingest, maintain, online, stats, validations)
and tags, with click's CliRunner: the demo box (a module copy, ``conftest.demo_box``) or an
empty box (``box``)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_run import ENV, assert_one_line_error, run, run_json
from click.testing import CliRunner

from lakebox.cli import cli
from lakebox.demo import generate


# -- fg list / show / head / commits ---------------------------------------------------------
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


# -- maintenance and the online store --------------------------------------------------------
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
    # --no-compact: compaction would fold the updates' position deletes into one more commit
    report = run_json("--box", box, "fg", "maintain", "readings", "--keep-last", "1", "--max-age-days", "0", "--no-compact")
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


# -- statistics, validations and tags of groups ----------------------------------------------
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




def test_text_output_prints_colons_as_written_never_as_emoji(tmp_path: Path) -> None:
    """rich turns ``:ab:`` into an emoji by default: a certificate fingerprint (``65:AB:B4``) or
    a description between colons must be printed as written."""
    import lakebox

    box = tmp_path / "colons.lakebox"
    with lakebox.connect(box) as project:
        project.get_feature_store().create_feature_group(
            "ratios", 1, primary_key=["k"], description="fingerprint 65:AB:B4, status :ok:")
    text = run("--box", box, "fg", "show", "ratios").stdout
    assert "fingerprint 65:AB:B4, status :ok:" in text
