"""External groups on the Spark engine: the rows read from the source become the pin's Arrow
rows, so Spark gives the same point-in-time join as DuckDB (slow: a Spark session)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from spark_session import PANDAS_WARNING, local_spark  # noqa: E402 - skips without Java or pyspark
from test_external_pit import frame, mixed  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(PANDAS_WARNING),
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from local_spark(tmp_path_factory, "lakebox-external-tests", cores=1)


def test_get_features_on_spark_equals_duckdb(spark: Any, fs: Any, mixed: dict[str, Any]) -> None:  # noqa: F811
    entity = frame(mixed["spine"])[["pid", "ts"]]
    names = ["rating", "price", "team"]
    duck = fs.get_features(names, entity_df=entity, dataframe_type="arrow")
    rows = fs.get_features(names, entity_df=entity, engine="spark", spark=spark).toArrow()
    assert rows.select(duck.column_names).to_pylist() == duck.to_pylist()
