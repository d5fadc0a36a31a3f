"""``fs.sql``: read-only DuckDB SQL over feature groups as ``name_version`` (and latest ``name``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import players, rows, teams

import lakebox


@pytest.fixture
def league(fs: Any) -> Any:
    """players v1 (3 rows), players v2 (1 row, with team_id) and teams v1 (2 rows)."""
    v1 = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    v1.insert(players([1, 2, 3]))
    v2 = fs.create_feature_group("players", version=2, primary_key=["pid"], event_time="ts")
    v2.insert(players([7]).append_column("team_id", pa.array([10], pa.int64())))
    t = fs.create_feature_group("teams", version=1, primary_key=["team_id"])
    t.insert(teams([10, 20], cities=["Oslo", "Rome"]))
    return fs


def _sql(fs: Any, query: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    return rows(fs.sql(query, dataframe_type="arrow", **kwargs))


def test_versioned_and_latest_names(league: Any) -> None:
    assert _sql(league, "SELECT pid FROM players_1 ORDER BY pid") == [(1,), (2,), (3,)]
    assert _sql(league, "SELECT pid FROM players_2") == [(7,)]
    assert _sql(league, "SELECT pid FROM players") == [(7,)], "the bare name is the latest version"
    assert _sql(league, "SELECT count(*) AS n FROM teams") == [(2,)]


def test_output_types(league: Any) -> None:
    assert isinstance(league.sql("SELECT * FROM teams"), pd.DataFrame)
    assert isinstance(league.sql("SELECT * FROM teams", dataframe_type="polars"), pl.DataFrame)
    table = league.sql("SELECT * FROM players_1", dataframe_type="arrow")
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_join_between_groups(league: Any) -> None:
    query = """
        SELECT p.pid, t.city
        FROM players_2 AS p JOIN teams_1 AS t ON p.team_id = t.team_id
    """
    assert _sql(league, query) == [(7, "Oslo")]
    cte = "WITH big AS (SELECT * FROM players_1 WHERE age > 21) SELECT count(*) FROM big, teams"
    assert _sql(league, cte) == [(4,)]
    assert _sql(league, "SELECT count(*) FROM players_1;") == [(3,)], "a trailing semicolon is one statement"


def test_sql_as_of_pins_every_group(fs: Any) -> None:
    fg = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    first = fg.insert(players([1, 2]))
    time.sleep(0.005)
    fg.insert(players([3]))
    fs.create_feature_group("teams", version=1, primary_key=["team_id"]).insert(teams([1]))
    query = "SELECT (SELECT count(*) FROM players_1) AS p, (SELECT count(*) FROM teams_1) AS t"
    assert _sql(fs, query) == [(3, 1)]
    assert _sql(fs, query, as_of=first.committed_on) == [(2, 0)], "teams had no commit yet"
    assert _sql(fs, query, as_of="2000-01-01T00:00:00Z") == [(0, 0)]
    assert _sql(fs, query, as_of="2000-01-01T00:00:00") == [(0, 0)]  # a time without a zone is UTC (as in hsfs)


def test_declared_group_without_data_is_an_empty_table(fs: Any) -> None:
    fs.create_feature_group(
        "players",
        version=1,
        primary_key=["pid"],
        event_time="ts",
        features=[lakebox.Feature("pid", "bigint"), lakebox.Feature("ts", "timestamp")],
    )
    assert _sql(fs, "SELECT count(*) FROM players_1") == [(0,)]
    assert fs.sql("SELECT * FROM players_1", dataframe_type="arrow").column_names == ["pid", "ts"]


def test_group_without_schema_in_sql(fs: Any) -> None:
    fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    try:
        assert _sql(fs, "SELECT count(*) FROM players_1") == [(0,)]
    except lakebox.QueryError as e:
        assert "players_1" in str(e), f"the error should name the group: {e}"


def test_sql_sees_deletes_and_rollbacks(fs: Any) -> None:
    fg = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    fg.insert(players([1, 2, 3]))
    fg.delete_records(pd.DataFrame({"pid": [2]}))
    assert _sql(fs, "SELECT pid FROM players ORDER BY pid") == [(1,), (3,)]
    fg.rollback(1)
    assert _sql(fs, "SELECT pid FROM players ORDER BY pid") == [(1,), (2,), (3,)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO players_1 VALUES (9, now(), 1.0, 'x')",
        "UPDATE players_1 SET age = 0",
        "DELETE FROM players_1",
        "DROP TABLE players_1",
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT 1) TO 'out.csv'",
        "ATTACH 'other.db' AS other",
        "SET enable_external_access = true",
        "PRAGMA version",
        "INSTALL httpfs",
        "LOAD sqlite",
        "EXPLAIN SELECT 1",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE players_1",
    ],
)
def test_only_single_select_statements(league: Any, statement: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lakebox.QueryError):
        league.sql(statement)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.lakebox"], "nothing written next to the box"
    assert _sql(league, "SELECT count(*) FROM players_1") == [(3,)]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize(
    "source",
    [
        "read_csv('/etc/passwd')",
        "read_text('/etc/hostname')",
        "glob('/etc/*')",
        "read_text('{box}/lakebox.toml')",
        "read_text('{box}/warehouse/../catalog.db')",
        "sqlite_scan('{box}/catalog.db', 'commits')",
    ],
)
def test_no_files_outside_the_warehouse(league: Any, project: lakebox.Project, source: str) -> None:
    with pytest.raises(lakebox.QueryError):
        league.sql("SELECT * FROM " + source.format(box=project.path))


def test_unknown_table_is_a_query_error_with_suggestions(league: Any) -> None:
    with pytest.raises(lakebox.QueryError, match="players_1") as info:
        league.sql("SELECT * FROM playerz_1")
    assert info.value.http_status == 400


def test_bad_sql(league: Any) -> None:
    with pytest.raises(lakebox.QueryError):
        league.sql("SELEC pid FROM players_1")
    with pytest.raises(lakebox.QueryError):
        league.sql("SELECT no_such_column FROM players_1")
    with pytest.raises(lakebox.ValidationError):
        league.sql("   ")
    with pytest.raises(lakebox.ValidationError):
        league.sql("SELECT 1", dataframe_type="numpy")


def test_versioned_name_wins_a_clash_with_a_bare_name(fs: Any) -> None:
    fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts").insert(players([1, 2]))
    fs.create_feature_group("players_1", version=1, primary_key=["team_id"]).insert(teams([5]))
    assert _sql(fs, "SELECT count(*) FROM players_1") == [(2,)], "players v1, not the group named players_1"
    assert _sql(fs, "SELECT team_id FROM players_1_1") == [(5,)]


def test_quoted_and_from_first_queries(league: Any) -> None:
    assert _sql(league, 'SELECT count(*) FROM "players_1"') == [(3,)]
    assert _sql(league, "FROM players_1 SELECT count(*)") == [(3,)]
    assert _sql(league, "SELECT count(*) FROM players_1 a, players_1 b") == [(9,)]


def test_table_names_are_case_insensitive_like_duckdb(league: Any) -> None:
    assert _sql(league, "SELECT count(*) FROM PLAYERS_1") == [(3,)]
    assert _sql(league, "SELECT count(*) FROM Teams") == [(2,)]


def test_deeply_nested_sql_is_a_query_error(league: Any) -> None:
    with pytest.raises(lakebox.QueryError, match="nested"):
        league.sql("SELECT " + "(" * 3000 + "1" + ")" * 3000)
    assert _sql(league, "SELECT " + "(" * 20 + "1" + ")" * 20) == [(1,)]


def test_the_spill_folder_is_the_boxs_own(league: Any, project: lakebox.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB allows its temp directory implicitly: it must be inside the box, not ./.tmp."""
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.csv").write_text("a\n1\n")
    monkeypatch.chdir(tmp_path)
    for source in ("read_csv('.tmp/secret.csv')", f"read_csv('{tmp_path}/.tmp/secret.csv')"):
        with pytest.raises(lakebox.QueryError):
            league.sql("SELECT * FROM " + source)


def test_duckdb_memory_limit_and_spill_settings(tmp_path: Path) -> None:
    from lakebox.query import duck

    settings = duck.settings_from({"duckdb_memory_limit": "300MB"}, tmp_path / ".tmp")
    con = duck.connect(settings)
    try:
        limit = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    finally:
        con.close()
    assert limit is not None and limit[0].startswith(("286", "300")) and limit[1] == str(tmp_path / ".tmp")
    default = duck.settings_from({}, None)
    assert default.memory_limit is not None and default.memory_limit.endswith("MiB")
    with pytest.raises(lakebox.ValidationError, match="duckdb_memory_limit"):
        duck.settings_from({"duckdb_memory_limit": "lots"}, None)


@pytest.mark.slow
def test_the_memory_limit_bounds_a_big_join_and_running_out_names_the_setting(tmp_path: Path) -> None:
    import numpy as np
    import pyarrow as pa

    root = tmp_path / "box"
    with lakebox.connect(root) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("big", 1, primary_key=["k"], event_time="ts", statistics=False)
        rows = 1_500_000
        rng = np.random.default_rng(0)
        ts = pa.array(np.unique(rng.integers(0, 10**12, rows * 2))[:rows] * 1000, pa.timestamp("us", tz="UTC"))
        fg.insert(pa.table({"k": np.arange(rows) % 300_000, "ts": ts, "f": rng.normal(size=rows), "g": rng.normal(size=rows)}))
        spine = pa.table({"k": np.arange(rows) % 300_000, "ts": ts})
        settings = root / "lakebox.toml"
        original = settings.read_text()
        settings.write_text(original + 'duckdb_memory_limit = "200MB"\n')
        out = fs.get_features(["f", "g"], entity_df=spine, dataframe_type="arrow")
        assert out.num_rows == rows  # one row per spine row within 200 MB
        settings.write_text(original + 'duckdb_memory_limit = "30MB"\n')
        with pytest.raises(lakebox.QueryError, match="duckdb_memory_limit"):
            fs.get_features(["f", "g"], entity_df=spine, dataframe_type="arrow")
