"""Golden SQL: the exact text the planner generates for a few plans, pinned in ``tests/golden/``
and reviewed as diffs. A golden file is never just text: each one is also EXECUTED on DuckDB
(relations registered under the names the SQL uses; Spark SQL transpiled back by sqlglot) and
its rows compared with the plain-Python oracle.

Regenerate after an intended planner change with ``LAKEBOX_REGEN_GOLDEN=1 pytest tests/test_golden_sql.py``
and review ``git diff tests/golden``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from helpers import TS, day, rows
from pit_oracle import Group, expected_rows, match
from plans import plan_features, register_all

import lakebox
from lakebox.offline import reader
from lakebox.query.compile import compile_plan
from lakebox.query.plan import Plan

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("LAKEBOX_REGEN_GOLDEN") == "1"

PLAYERS = [  # pid, ts, age, team_id
    {"pid": 1, "ts": day(1), "age": 21.0, "team_id": 10},
    {"pid": 1, "ts": day(3), "age": 22.0, "team_id": 20},
    {"pid": 2, "ts": day(2), "age": 19.0, "team_id": 20},
    {"pid": 3, "ts": day(1), "age": None, "team_id": 30},
    {"pid": 4, "ts": day(2), "age": 35.0, "team_id": 40},
]
STATS = [  # pid, seen, score
    {"pid": 1, "seen": day(1), "score": 1.0},
    {"pid": 1, "seen": day(2), "score": 2.0},
    {"pid": 2, "seen": day(2), "score": None},
    {"pid": 4, "seen": day(4), "score": 4.0},
]
TEAMS = [{"team_id": 10, "city": "c10"}, {"team_id": 20, "city": "c20"}, {"team_id": 40, "city": "c40"}]
SPINE = [  # pid, team_id, t: ties, between times, unknown keys, a duplicate
    {"pid": 1, "team_id": 10, "t": day(2)},
    {"pid": 1, "team_id": 20, "t": day(3)},
    {"pid": 2, "team_id": 20, "t": day(1)},
    {"pid": 4, "team_id": 40, "t": day(5)},
    {"pid": 9, "team_id": 99, "t": day(5)},
    {"pid": 1, "team_id": 10, "t": day(2)},
    {"pid": 1, "team_id": 10, "t": day(3, 12)},
]


def _table(data: list[dict[str, Any]], types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in data], t) for c, t in types.items()})


def _spine() -> pa.Table:
    return _table(SPINE, {"pid": pa.int64(), "team_id": pa.int64(), "t": TS})


@pytest.fixture(scope="module")
def fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with lakebox.connect(tmp_path_factory.mktemp("golden") / "box") as project:
        store = project.get_feature_store()
        players = store.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
        players.insert(_table(PLAYERS, {"pid": pa.int64(), "ts": TS, "age": pa.float64(), "team_id": pa.int64()}))
        stats = store.create_feature_group("stats", version=1, primary_key=["pid"], event_time="seen")
        stats.insert(_table(STATS, {"pid": pa.int64(), "seen": TS, "score": pa.float64()}))
        teams = store.create_feature_group("teams", version=1, primary_key=["team_id"])
        teams.insert(_table(TEAMS, {"team_id": pa.int64(), "city": pa.string()}))
        yield store


def _golden(name: str, sql: str) -> str:
    """Compare ``sql`` with the golden file (or rewrite it under LAKEBOX_REGEN_GOLDEN=1)."""
    path = GOLDEN / name
    text = sql.rstrip("\n") + "\n"
    if REGEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing; generate it with LAKEBOX_REGEN_GOLDEN=1 and review the diff"
    assert text == path.read_text(), f"{name} changed; if intended, regenerate with LAKEBOX_REGEN_GOLDEN=1"
    return path.read_text()


def _execute(plan: Plan, sql: str) -> pa.Table:
    """Run golden SQL on DuckDB with every relation of ``plan`` registered under its SQL name."""
    con = reader.connect()
    try:
        register_all(con, plan)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def _groups() -> dict[str, Group]:
    return {
        "players": Group("players", ["pid"], "ts", PLAYERS),
        "stats": Group("stats", ["pid"], "seen", STATS),
        "teams": Group("teams", ["team_id"], None, TEAMS),
    }


FEATURES = [("players", "age"), ("stats", "score"), ("teams", "city")]


def test_point_in_time_three_groups(fs: Any) -> None:
    names = ["age", "score", "city"]
    sql = _golden("pit_three_groups.sql", fs.get_features_sql(names, entity_df=_spine()))
    want = expected_rows(SPINE, ["pid", "team_id", "t"], list(_groups().values()), FEATURES, "t")
    got = _execute(plan_features(fs, names, _spine()), sql)
    assert got.column_names == ["pid", "team_id", "t", "age", "score", "city"]
    assert rows(got) == want
    assert rows(fs.get_features(names, entity_df=_spine(), dataframe_type="arrow")) == want


@pytest.mark.parametrize(
    ("name", "max_age", "formulation"),
    [
        ("pit_max_age_per_group.sql", {"stats": timedelta(days=1), "players": timedelta(hours=36)}, "window"),
        ("pit_max_age_per_call.asof.sql", timedelta(days=1), "asof"),
    ],
)
def test_point_in_time_with_max_age(fs: Any, name: str, max_age: Any, formulation: str) -> None:
    names = ["players.age", "score"]
    plan = plan_features(fs, names, _spine(), max_age=max_age)
    rendered = (
        fs.get_features_sql(names, entity_df=_spine(), max_age=max_age)
        if formulation == "window"
        else compile_plan(plan_features(fs, names, _spine(), max_age=max_age, bound=False), "asof").sql(
            dialect="duckdb", pretty=True
        )
    )
    sql = _golden(name, rendered)
    groups = _groups()
    want = expected_rows(
        SPINE, ["pid", "team_id", "t"], [groups["players"], groups["stats"]], FEATURES[:2], "t", max_age
    )
    assert rows(_execute(plan, sql)) == want
    assert any(r[3] is None for r in want) and any(r[4] is not None for r in want)


def _query(fs: Any) -> Any:
    players, stats, teams = (fs.get_feature_group(n, 1) for n in ("players", "stats", "teams"))
    return (
        players.select(["pid", "ts", "age"])
        .join(teams.select(["city"]), on=["team_id"])
        .join(stats.select(["score"]))
        .filter((players.age > 20) & teams.city.isin(["c10", "c20", "c40"]))
    )


def _query_expected() -> list[tuple[Any, ...]]:
    groups = _groups()
    out = []
    for row in sorted(PLAYERS, key=lambda r: (r["pid"], r["ts"])):
        team = match(row, groups["teams"], None)
        stat = match(row, groups["stats"], "ts")
        if row["age"] is not None and row["age"] > 20 and team is not None:
            out.append((row["pid"], row["ts"], row["age"], team["city"], stat["score"] if stat else None))
    return out


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_select_join_filter_query(fs: Any, dialect: str) -> None:
    query = _query(fs)
    sql = _golden(f"query_join_filter.{dialect}.sql", query.to_sql(dialect))
    runnable = sql if dialect == "duckdb" else sqlglot.transpile(sql, read=dialect, write="duckdb")[0]
    got = _execute(query._bound_plan(), runnable)
    assert got.column_names == ["pid", "ts", "age", "city", "score"]
    want = _query_expected()
    assert rows(got) == want
    assert rows(query.read(dataframe_type="arrow")) == want
    assert len(want) == 3 and want[0][4] == 1.0
