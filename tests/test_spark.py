"""Spark as an execution engine, on real Spark (pyspark ``local[2]``, one session per module):
the planner's point-in-time scenarios (late events, deletes, ``max_age``, ``as_of``) give the
same rows on Spark as on DuckDB and as the plain-Python oracle; spines of every frame kind;
``fs.sql``; training data and batch data; the refusals.

Skipped, with the reason, only where pyspark or a Java runtime is absent
(``bash scripts/install.sh spark`` / ``pip install 'lakebox[spark]'`` and a JDK 17+).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from pit_oracle import GroupState, expected_rows
from spark_session import PANDAS_WARNING, local_spark  # noqa: E402 - skips without Java or pyspark
from test_pit_property import GROUPS, _arrow_types, _columns, _ms, _oracle_groups, _table, scenarios

import lakebox
from lakebox import Feature
from lakebox.errors import MissingDependencyError, QueryError, ValidationError
from lakebox.query import spark as spark_engine  # noqa: E402

# pyspark checks the pandas version on Arrow conversions and warns about pandas 3
pytestmark = pytest.mark.filterwarnings(PANDAS_WARNING)
EXAMPLES = int(os.environ.get("LAKEBOX_SPARK_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from local_spark(tmp_path_factory, "lakebox-tests", cores=2)


def _rows(table: pa.Table, columns: list[str]) -> list[tuple[Any, ...]]:
    return list(zip(*[table.column(c).to_pylist() for c in columns], strict=True))


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_spark_rows_equal_duckdb_and_the_oracle(spark: Any, scenario: dict[str, Any]) -> None:
    names: list[str] = scenario["names"]
    features = [f for f in scenario["order"] if f[0] in names]
    requested = [f"{g}.{f}" if scenario["qualify"] else f for g, f in features]
    spine = scenario["spine"]
    max_age = scenario["max_age"]
    if isinstance(max_age, dict):
        max_age = {g: a for g, a in max_age.items() if g in names}
    states = {name: GroupState(GROUPS[name][0], GROUPS[name][1]) for name in names}
    columns = ["k", "k2", "t", *[f for _, f in features]]
    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "box") as project:
        fs = project.get_feature_store()
        groups = {}
        for name in names:
            keys, event_time, declared = GROUPS[name]
            schema = [Feature(k, "bigint") for k in keys] + ([Feature(event_time, "timestamp")] if event_time else [])
            schema.extend(Feature(f, t) for f, (t, _) in declared.items())
            groups[name] = fs.create_feature_group(name, version=1, primary_key=keys, event_time=event_time, features=schema)
        first_commits = []
        for name in names:  # phase one, then late events and deletes
            if scenario["first"][name]:
                first_commits.append(groups[name].insert(_table(name, scenario["first"][name])))
                states[name].insert(scenario["first"][name])
        at_first = {name: states[name].copy() for name in names}
        time.sleep(0.003)
        for name in names:
            if scenario["late"][name]:
                groups[name].insert(_table(name, scenario["late"][name]))
                states[name].insert(scenario["late"][name])
            keys = scenario["deletes"][name]
            if keys:
                types = dict(zip(_columns(name), _arrow_types(name), strict=True))
                groups[name].delete_records(pa.table({c: pa.array([k[c] for k in keys], types[c]) for c in keys[0]}))
                states[name].delete(keys)
        entity = pa.table(
            {
                "k": pa.array([r["k"] for r in spine], pa.int64()),
                "k2": pa.array([r["k2"] for r in spine], pa.int64()),
                "t": pa.array([r["t"] for r in spine], TS),
            }
        )
        pinned_at = _ms(max(c.committed_ms for c in first_commits))
        for as_of, state in ((None, states), (pinned_at, at_first)):
            oracle = expected_rows(
                spine, ["k", "k2", "t"], _oracle_groups({n: s.snapshot() for n, s in state.items()}), features, "t", max_age
            )
            duck = fs.get_features(requested, entity_df=entity, as_of=as_of, max_age=max_age, dataframe_type="arrow")
            on_spark = fs.get_features(requested, entity_df=entity, as_of=as_of, max_age=max_age, engine="spark", spark=spark)
            got = on_spark.toArrow()
            assert _rows(got, columns) == _rows(duck, columns) == oracle, f"as_of={as_of}"


def _box(tmp_path: Path) -> Any:
    project = lakebox.connect(tmp_path / "box")
    fs = project.get_feature_store()
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    players.insert(
        pa.table(
            {
                "pid": pa.array([1, 1, 2, 3], pa.int64()),
                "ts": pa.array([day(1), day(3), day(2), day(2)], TS),
                "age": pa.array([20.0, 21.0, None, 40.0]),
                "team_id": pa.array([10, 20, 10, 30], pa.int64()),
            }
        )
    )
    labels = fs.create_feature_group("games", version=1, primary_key=["gid"], event_time="ts")
    labels.insert(
        pa.table(
            {
                "gid": pa.array(range(8), pa.int64()),
                "pid": pa.array([1, 2, 3, 1, 2, 3, 9, 1], pa.int64()),
                "ts": pa.array([day(1), day(2), day(3), day(4), day(5), day(1), day(2), day(5)], TS),
                "won": pa.array([1, 0, 1, 1, 0, 0, 1, 1], pa.int64()),
            }
        )
    )
    return project


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_spines_of_every_kind_and_fs_sql(spark: Any, tmp_path: Path) -> None:
    import polars as pl

    with _box(tmp_path) as project:
        fs = project.get_feature_store()
        spine = pa.table({"pid": pa.array([3, 1, 2, 1], pa.int32()), "t": pa.array([day(5), day(2), day(1), day(4)], TS)})
        want = fs.get_features(["age", "team_id"], entity_df=spine, max_age=timedelta(days=2), dataframe_type="arrow")
        for frame in (spine, spine.to_pandas(), pl.from_arrow(spine), spark.createDataFrame(spine.to_pylist(), "pid int, t timestamp")):
            got = fs.get_features(["age", "team_id"], entity_df=frame, max_age=timedelta(days=2), engine="spark", spark=spark)
            assert got.toArrow().to_pylist() == want.to_pylist(), type(frame)
        query = "SELECT p.pid, count(*) AS n, max(g.won) AS w FROM players_1 p JOIN games g ON p.pid = g.pid GROUP BY p.pid ORDER BY p.pid"
        assert fs.sql(query, engine="spark", spark=spark).toArrow().to_pylist() == fs.sql(query, dataframe_type="arrow").to_pylist()
        with pytest.raises(QueryError, match="read-only"):
            fs.sql("DROP TABLE players_1", engine="spark", spark=spark)
        with pytest.raises(QueryError, match="players_1"):
            fs.sql("SELECT * FROM playrs_1", engine="spark", spark=spark)
        with pytest.raises(ValidationError, match="spark"):
            fs.get_features(["age"], entity_df=spine, engine="spark")
        assert not [t for t in spark.catalog.listTables() if t.name.startswith("lb_")], "no temp views are left behind"


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_training_and_batch_data_on_spark_equal_duckdb(spark: Any, tmp_path: Path) -> None:
    with _box(tmp_path) as project:
        fs = project.get_feature_store()
        games, players = fs.get_feature_group("games", 1), fs.get_feature_group("players", 1)
        fv = fs.create_feature_view(
            "wins", version=1, query=games.select(["gid", "ts", "won"]).join(players.select(["age", "team_id"])), labels=["won"]
        )
        spec = {"kind": "random", "test_size": 0.25, "validation_size": None, "seed": 3}
        on_duck, snaps_duck, _ = fv._splits(spec)
        on_spark, snaps_spark, _ = fv._splits(spec, engine="spark", spark=spark)
        assert snaps_spark == snaps_duck
        for split in on_duck:
            assert on_spark[split].equals(on_duck[split]), split
        batch = fv.get_batch_data(engine="spark", spark=spark).toArrow()
        assert batch.equals(fv.get_batch_data(dataframe_type="arrow"))
        # a training dataset made on Spark: the same rows, files and pins as one made on DuckDB
        on_duck_version = fv.create_training_dataset(test_size=0.25, seed=3)
        on_spark_version = fv.create_training_dataset(test_size=0.25, seed=3, engine="spark", spark=spark)
        duck_sets = fv.get_training_data(on_duck_version, dataframe_type="arrow")
        spark_sets = fv.get_training_data(on_spark_version, dataframe_type="arrow")
        for duck_part, spark_part in zip(duck_sets, spark_sets, strict=True):
            assert spark_part.equals(duck_part)
        pins = games.pins()
        assert pins and len({commit for commit in pins.values()}) == 1  # both pinned the same commit


@pytest.mark.slow  # starts a Spark session (a JVM): ~40 s on a loaded 2-core machine; CI runs it
def test_delete_files_are_refused_and_missing_java_is_named(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakebox.query.bind import bind
    from lakebox.query.build import QuerySpec, query_plan
    from lakebox.query.refs import GroupRef, Pin

    ref = GroupRef(1, "g", 1, "g_t", "lakebox.g_t", pa.schema([("k", pa.int64())]), ("k",))
    plan = bind(query_plan(QuerySpec(ref)), lambda r, when: Pin(5, 1, ("x.parquet",), has_deletes=True))
    with pytest.raises(QueryError, match="delete files"):
        spark_engine.execute(plan, spark)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="install.sh spark"):
        spark_engine.require()

