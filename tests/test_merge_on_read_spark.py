"""Spark reads a merge-on-read group's pin with its deletes applied (query/spark.py reads such
a pin through DuckDB): the same rows as the DuckDB engine. Real Spark (``local[1]``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from spark_session import PANDAS_WARNING, local_spark  # noqa: E402 - skips without Java or pyspark

from lakebox.offline import deletes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(PANDAS_WARNING),
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from local_spark(tmp_path_factory, "lakebox-mor-tests", cores=1)


def test_spark_reads_a_group_with_deletes_like_duckdb(fs: Any, spark: Any) -> None:
    when = pd.Timestamp("2026-01-01", tz="UTC")
    fg = fs.create_feature_group("players", 1, primary_key=["k"], event_time="ts")
    fg.insert(pd.DataFrame({"k": range(6), "ts": when, "v": [float(k) for k in range(6)]}))
    fg._table.load().transaction().set_properties({deletes.MODE_PROPERTY: deletes.MERGE_ON_READ}).commit_transaction()
    fg.insert(pd.DataFrame({"k": [1, 4], "ts": when, "v": [-1.0, -4.0]}))
    fg.delete_records(pd.DataFrame({"k": [3]}))
    assert fg._planner_pin().has_deletes
    spine = pd.DataFrame({"k": [0, 1, 3, 4], "ts": when + pd.Timedelta(hours=1)})
    on_duckdb = fs.get_features(["players.v"], entity_df=spine, dataframe_type="arrow")
    on_spark = fs.get_features(["players.v"], entity_df=spine, engine="spark", spark=spark)
    got = on_spark.toArrow().column("v").to_pylist()
    assert got == on_duckdb.column("v").to_pylist() == [0.0, -1.0, None, -4.0]
    query = "SELECT k, v FROM players_1 ORDER BY k"
    assert (
        fs.sql(query, engine="spark", spark=spark).toArrow().to_pylist()
        == fs.sql(query, dataframe_type="arrow").to_pylist()
    )
