"""One local Spark session for the Spark test modules (real pyspark, a JVM, no cluster).

``import spark_session`` skips the importing module when Java or pyspark is missing, with the
reason printed; ``local_spark`` yields a session whose warehouse is a temporary folder (never
``./spark-warehouse`` in the checkout), in UTC, without the UI or console progress.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs a Java runtime (17+); none on PATH or JAVA_HOME", allow_module_level=True)
pytest.importorskip("pyspark", reason="pyspark is not installed: bash scripts/install.sh spark")

# pyspark checks the pandas version on Arrow conversions and warns about pandas 3
PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


def local_spark(tmp_path_factory: pytest.TempPathFactory, name: str, cores: int = 1) -> Iterator[Any]:
    """A ``local[cores]`` session for one test module (use from a module-scoped fixture)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
