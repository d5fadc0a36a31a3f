"""External groups on the Spark engine: the rows read from the source become the pin's Arrow
rows, so Spark gives the same point-in-time join as DuckDB (slow: a Spark session)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from test_external_pit import frame, mixed  # noqa: F401 - the fixture

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs a Java runtime (17+); none on PATH or JAVA_HOME", allow_module_level=True)
pytest.importorskip("pyspark", reason="pyspark is not installed: bash scripts/install.sh spark")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("lakebox-external-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_get_features_on_spark_equals_duckdb(spark: Any, fs: Any, mixed: dict[str, Any]) -> None:  # noqa: F811
    entity = frame(mixed["spine"])[["pid", "ts"]]
    names = ["rating", "price", "team"]
    duck = fs.get_features(names, entity_df=entity, dataframe_type="arrow")
    rows = fs.get_features(names, entity_df=entity, engine="spark", spark=spark).toArrow()
    assert rows.select(duck.column_names).to_pylist() == duck.to_pylist()
