"""``fs.get_features`` (DESIGN §3): resolving feature names to groups, the entity dataframe in
every frame type, choosing the spine's time column, refusing naive times, output types, reading
without an entity dataframe, and ``fs.get_features_sql``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day, rows
from plans import plan_features, register_all

import lakebox
from lakebox.errors import (
    NotFoundError,
    NullKeyError,
    QueryError,
    SchemaMismatchError,
    TimezoneError,
    ValidationError,
)
from lakebox.offline import reader
from lakebox.query import duck


def _players(version_offset: float) -> pa.Table:
    """pids 1-3 at day 1; pid 1 again at day 3. ``age`` tells the version apart."""
    return pa.table(
        {
            "pid": pa.array([1, 2, 3, 1], pa.int64()),
            "ts": pa.array([day(1), day(1), day(1), day(3)], TS),
            "age": pa.array([20.0, 30.0, 40.0, 21.0], pa.float64()) + pa.scalar(version_offset),
            "name": ["ann", "bob", "cy", "ann2"],
            "team_id": pa.array([10, 20, 10, 20], pa.int64()),
        }
    )


@pytest.fixture(scope="module")
def fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One read-only box for the module: players v1 and v2, coaches, teams, stats."""
    with lakebox.connect(tmp_path_factory.mktemp("get_features") / "box") as project:
        store = project.get_feature_store()
        for version, offset in ((1, 0.0), (2, 100.0)):
            group = store.create_feature_group("players", version=version, primary_key=["pid"], event_time="ts")
            group.insert(_players(offset))
        coaches = store.create_feature_group("coaches", version=1, primary_key=["cid"], event_time="since")
        coaches.insert(
            pa.table({"cid": pa.array([1], pa.int64()), "since": pa.array([day(1)], TS), "age": [50.0], "rating": [3]})
        )
        referees = store.create_feature_group("referees", version=1, primary_key=["rid"])
        referees.insert(pa.table({"rid": pa.array([1], pa.int64()), "age": [60.0]}))
        teams = store.create_feature_group("teams", version=1, primary_key=["team_id"])
        teams.insert(pa.table({"team_id": pa.array([10, 20], pa.int64()), "city": ["c10", "c20"]}))
        stats = store.create_feature_group("stats", version=1, primary_key=["pid"], event_time="seen")
        stats.insert(
            pa.table(
                {
                    "pid": pa.array([1, 1, 2], pa.int64()),
                    "seen": pa.array([day(1), day(2), day(5)], TS),
                    "score": [1.0, 2.0, 5.0],
                }
            )
        )
        yield store


def _spine(kind: str = "arrow") -> Any:
    """Unsorted on purpose, with a duplicate row and a key no group has."""
    table = pa.table(
        {
            "pid": pa.array([3, 1, 1, 9, 1, 2], pa.int64()),
            "t": pa.array([day(2), day(3), day(2), day(2), day(3), day(1) - timedelta(hours=1)], TS),
        }
    )
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        return pl.from_arrow(table)
    return table


SPINE_ROWS = rows(_spine())


def _get(fs: Any, names: list[str], **kwargs: Any) -> list[tuple[Any, ...]]:
    return rows(fs.get_features(names, dataframe_type="arrow", **kwargs))


# -- name resolution ---------------------------------------------------------------------------


def test_names_resolve_to_the_latest_version_unless_qualified(fs: Any) -> None:
    # As of each spine row: pid 3 -> 40, pid 1 at day 3 -> 21, pid 1 at day 2 -> 20, 9 -> none, 2 before day 1 -> none.
    v1 = [40.0, 21.0, 20.0, None, 21.0, None]
    v2 = [None if a is None else a + 100 for a in v1]
    assert [r[3] for r in _get(fs, ["name", "players.age"], entity_df=_spine())] == v2
    assert [r[2] for r in _get(fs, ["players:2.age"], entity_df=_spine())] == v2
    assert [r[2] for r in _get(fs, ["players:1.age"], entity_df=_spine())] == v1
    assert [r[2] for r in _get(fs, ["name"], entity_df=_spine())] == ["cy", "ann2", "ann", None, "ann2", None]
    both = fs.get_features(["players:1.age", "players:2.age"], entity_df=_spine(), dataframe_type="arrow")
    assert both.num_rows == 6 and both.num_columns == 4, "two versions give two columns, none dropped"
    assert both.column(2).to_pylist() == v1 and both.column(3).to_pylist() == v2
    mixed = fs.get_features(["players:1.age", "players.name"], entity_df=_spine(), dataframe_type="arrow")
    assert mixed.column("age").to_pylist() == v1 and mixed.column("name").to_pylist()[1] == "ann2"


def test_an_ambiguous_name_lists_every_candidate(fs: Any) -> None:
    spine = pa.table(
        {"pid": pa.array([1], pa.int64()), "cid": pa.array([1], pa.int64()), "rid": pa.array([1], pa.int64())}
    )
    with pytest.raises(QueryError, match="ambiguous") as info:
        fs.get_features(["age"], entity_df=spine)
    message = str(info.value)
    for candidate in ("players.age", "coaches.age", "referees.age"):
        assert candidate in message
    assert info.value.details["candidates"] == ["coaches.age", "players.age", "referees.age"]
    assert "players:1" not in message, "only the latest version of a group is a candidate"
    # Qualifying picks one.
    assert _get(fs, ["referees.age", "coaches.age"], entity_df=spine.append_column("t", pa.array([day(2)], TS))) == [
        (1, 1, 1, day(2), 60.0, 50.0)
    ]


@pytest.mark.parametrize(
    ("name", "error", "hint"),
    [
        ("ratin", NotFoundError, "rating"),
        ("scor", NotFoundError, "score"),
        ("players.agee", NotFoundError, "age"),
        ("player.age", NotFoundError, "players"),
        ("players:3.age", NotFoundError, r"\[1, 2\]"),
        ("Age", ValidationError, "group.feature"),
        ("players..age", ValidationError, "group:version.feature"),
    ],
)
def test_unknown_names_suggest_close_ones(fs: Any, name: str, error: type[Exception], hint: str) -> None:
    with pytest.raises(error, match=hint):
        fs.get_features([name], entity_df=_spine())


def test_a_missing_primary_key_is_named(fs: Any) -> None:
    with pytest.raises(QueryError, match=r"coaches.*\['cid'\]") as info:
        fs.get_features(["rating"], entity_df=_spine())
    assert info.value.details == {"group": "coaches", "missing": ["cid"]}
    with pytest.raises(QueryError, match="team_id"):
        fs.get_features(["name", "city"], entity_df=_spine())
    with pytest.raises(ValidationError):
        fs.get_features([], entity_df=_spine())
    with pytest.raises(QueryError, match="twice"):
        fs.get_features(["name", "players.name"], entity_df=_spine())


# -- the entity dataframe ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars"])
def test_entity_df_in_every_frame_type(fs: Any, kind: str) -> None:
    got = _get(fs, ["name", "score"], entity_df=_spine(kind))
    assert [r[:2] for r in got] == SPINE_ROWS, "one row per spine row, in the spine's order"
    assert [r[2:] for r in got] == [
        ("cy", None),
        ("ann2", 2.0),
        ("ann", 2.0),
        (None, None),
        ("ann2", 2.0),
        (None, None),
    ]


def test_entity_df_columns_pass_through_and_types_conform(fs: Any) -> None:
    spine = pa.table(
        {
            "pid": pa.array([2, 1], pa.int32()),  # a narrower key type joins the bigint key
            "t": pa.array([day(2), day(2)], pa.timestamp("ns", tz="Europe/Berlin")),
            "label": ["a", "b"],
            "age": [5, 6],  # a spine column named like a feature is kept; the feature gets its group's name
        }
    )
    out = fs.get_features(["players.age"], entity_df=spine, dataframe_type="arrow")
    assert out.column_names == ["pid", "t", "label", "age", "players_age"]
    assert out.schema.field("pid").type == pa.int64() and out.schema.field("t").type == TS
    assert rows(out) == [(2, day(2), "a", 5, 130.0), (1, day(2), "b", 6, 120.0)]
    with pytest.raises(SchemaMismatchError, match="pid"):
        fs.get_features(["players.age"], entity_df=pa.table({"pid": ["1"], "t": pa.array([day(2)], TS)}))
    with pytest.raises(NullKeyError, match="pid"):
        fs.get_features(
            ["players.age"],
            entity_df=pa.table({"pid": pa.array([1, None], pa.int64()), "t": pa.array([day(2)] * 2, TS)}),
        )
    with pytest.raises(ValidationError, match="null"):
        fs.get_features(
            ["players.age"],
            entity_df=pa.table({"pid": pa.array([1, 2], pa.int64()), "t": pa.array([day(2), None], TS)}),
        )
    with pytest.raises(ValidationError, match="no rows"):
        fs.get_features(["players.age"], entity_df=_spine().slice(0, 0))
    with pytest.raises(ValidationError, match="__lb_row"):
        fs.get_features(["players.age"], entity_df=_spine().append_column("__lb_row", pa.array([0] * 6)))
    with pytest.raises(ValidationError):
        fs.get_features(["players.age"], entity_df={"pid": [1]})


def test_event_time_argument_only_column_and_several(fs: Any) -> None:
    two = _spine().append_column("t2", pa.array([day(5)] * 6, TS))
    with pytest.raises(ValidationError, match=r"\['t', 't2'\]"):
        fs.get_features(["score"], entity_df=two)
    by_t = _get(fs, ["score"], entity_df=two, event_time="t")
    by_t2 = _get(fs, ["score"], entity_df=two, event_time="t2")
    assert [r[3] for r in by_t] == [r[2] for r in _get(fs, ["score"], entity_df=_spine())]
    assert [r[3] for r in by_t2] == [None, 2.0, 2.0, None, 2.0, 5.0]
    with pytest.raises(SchemaMismatchError, match="nope"):
        fs.get_features(["score"], entity_df=two, event_time="nope")
    # No time column at all: each group's latest row per key.
    keys_only = pa.table({"pid": pa.array([2, 1], pa.int64())})
    assert _get(fs, ["score", "name"], entity_df=keys_only) == [(2, 5.0, "bob"), (1, 2.0, "ann2")]


def test_event_time_must_name_a_timestamp_column(fs: Any) -> None:
    with pytest.raises(ValidationError, match="pid"):
        fs.get_features(["score"], entity_df=_spine(), event_time="pid")


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars"])
def test_naive_spine_times_are_refused(fs: Any, kind: str) -> None:
    naive = pa.table({"pid": pa.array([1], pa.int64()), "t": pa.array([datetime(2024, 1, 2)], pa.timestamp("us"))})
    frame: Any = naive.to_pandas() if kind == "pandas" else pl.from_arrow(naive) if kind == "polars" else naive
    with pytest.raises(TimezoneError, match="naive"):
        fs.get_features(["name"], entity_df=frame)


def test_aware_spine_times_in_other_zones_are_instants(fs: Any) -> None:
    spine = pd.DataFrame({"pid": [1], "t": [pd.Timestamp("2024-01-03T01:00:00+02:00")]})  # day 2, 23:00 UTC
    assert _get(fs, ["name"], entity_df=spine) == [(1, datetime(2024, 1, 2, 23, tzinfo=UTC), "ann")]


@pytest.mark.parametrize(("kind", "cls"), [("pandas", pd.DataFrame), ("polars", pl.DataFrame), ("arrow", pa.Table)])
def test_output_dataframe_types(fs: Any, kind: str, cls: type) -> None:
    out = fs.get_features(["name", "players.age"], entity_df=_spine(), dataframe_type=kind)
    assert isinstance(out, cls) and len(out) == 6
    assert list(out.columns if kind != "arrow" else out.column_names) == ["pid", "t", "name", "age"]
    if kind == "pandas":
        assert str(out["t"].dtype) == "datetime64[us, UTC]"
    with pytest.raises(ValidationError, match="dataframe_type"):
        fs.get_features(["name"], entity_df=_spine(), dataframe_type="numpy")


def test_max_age_arguments(fs: Any) -> None:
    def scores(max_age: Any) -> list[Any]:
        return [r[2] for r in _get(fs, ["score"], entity_df=_spine(), max_age=max_age)]

    assert scores(timedelta(days=1)) == [None, 2.0, 2.0, None, 2.0, None]
    assert scores({"stats": timedelta(0)}) == [None, None, 2.0, None, None, None], "only exact times"
    assert scores({"players": timedelta(0)}) == [None, 2.0, 2.0, None, 2.0, None], "other groups: no limit"
    with pytest.raises(ValidationError):
        fs.get_features(["score"], entity_df=_spine(), max_age=5)
    with pytest.raises(ValidationError):
        fs.get_features(["score"], entity_df=_spine(), max_age=timedelta(days=-1))
    with pytest.raises(ValidationError):
        fs.get_features(["score"], entity_df=_spine(), max_age={"stats": 3})


# -- without an entity dataframe ---------------------------------------------------------------


def test_without_entity_df_groups_join_on_their_keys(fs: Any) -> None:
    # The first name's group is the spine: its keys and event time, then the requested features.
    out = fs.get_features(["players:1.name", "city", "score"], dataframe_type="arrow")
    assert out.column_names == ["pid", "ts", "name", "city", "score"]
    assert rows(out) == [
        (1, day(1), "ann", "c10", 1.0),
        (1, day(3), "ann2", "c20", 2.0),
        (2, day(1), "bob", "c20", None),
        (3, day(1), "cy", "c10", None),
    ]
    assert fs.get_features(["score"], as_of=day(1), dataframe_type="arrow").num_rows == 0, "before any commit"
    with pytest.raises(QueryError, match="cid"):
        fs.get_features(["name", "rating"])


# -- the SQL -----------------------------------------------------------------------------------


def test_get_features_sql(fs: Any) -> None:
    sql = fs.get_features_sql(
        ["name", "score", "city"], entity_df=_spine().append_column("team_id", pa.array([10] * 6, pa.int64()))
    )
    assert isinstance(sql, str)
    for relation in ('"entity_df"', '"players_2"', '"stats_1"', '"teams_1"'):
        assert relation in sql
    assert "ann" not in sql, "no data in the SQL, only relation names"
    spark = fs.get_features_sql(["name"], entity_df=_spine(), dialect="spark", max_age=timedelta(hours=2))
    assert "`players_2`" in spark and "INTERVAL" in spark
    plan = plan_features(fs, ["name", "score"], _spine())
    con = reader.connect()
    try:
        register_all(con, plan)
        ran = rows(con.sql(fs.get_features_sql(["name", "score"], entity_df=_spine())).to_arrow_table())
    finally:
        con.close()
    assert ran == _get(fs, ["name", "score"], entity_df=_spine())


def test_get_features_sql_runs_on_the_callers_entity_df(fs: Any) -> None:
    plan = plan_features(fs, ["name"], _spine())
    con = reader.connect()
    try:
        duck.register(con, plan.joins[0].relation)
        con.register("entity_df", _spine())
        ran = rows(con.sql(fs.get_features_sql(["name"], entity_df=_spine())).to_arrow_table())
    finally:
        con.close()
    assert ran == _get(fs, ["name"], entity_df=_spine())


def test_sub_millisecond_max_age_is_not_truncated(fs: Any) -> None:
    at = day(2) + timedelta(microseconds=1200)  # 1.2 ms after stats' row of pid 1
    spine = pa.table({"pid": pa.array([1], pa.int64()), "t": pa.array([at], TS)})
    for max_age in (timedelta(microseconds=1500), timedelta(microseconds=1200)):
        assert _get(fs, ["score"], entity_df=spine, max_age=max_age) == [(1, at, 2.0)], max_age
