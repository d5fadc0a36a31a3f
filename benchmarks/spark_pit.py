"""Point-in-time training data on Apache Spark: lakebox on Spark vs the best hand-written Spark
SQL over the same files, with lakebox on DuckDB alongside, in one run.

    python benchmarks/spark_pit.py            # 10k spine x 3 groups of 100k rows (quick)
    python benchmarks/spark_pit.py --scale    # pit_join.py --scale: 100k spine x 3 groups of ~1M rows

Spark runs ``local[2]`` (2 shuffle partitions, UI off, session time zone UTC). Every side reads
the groups' current Iceberg data files and collects the result to Arrow. The hand-written query
numbers the spine with ``monotonically_increasing_id()`` and keeps, per spine row and group, the
latest row at or before its time (join + ``row_number``) — the exact formulation lakebox emits,
written by hand. Prints times and ratios (target: lakebox on Spark within 1.2x of hand-written).
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import warnings
from pathlib import Path

from pit_data import FEATURES, make_group, make_spine, timed  # noqa: E402 - sibling module

import lakebox


def hand_written(spark: object, files: dict[str, list[str]], spine: object) -> object:
    from pyspark.sql import functions as F

    numbered = spine.withColumn("rid", F.monotonically_increasing_id())  # type: ignore[attr-defined]
    frames = {"spine_n": numbered}
    ctes, joins, columns = [], [], []
    for i, (prefix, paths) in enumerate(files.items()):
        frames[f"g{i}"] = spark.read.parquet(*paths)  # type: ignore[attr-defined]
        cols = ", ".join(f"g.{prefix}_f{j}" for j in range(FEATURES))
        ctes.append(
            f"m{i} AS (SELECT s.rid, {cols}, row_number() OVER (PARTITION BY s.rid ORDER BY g.ts DESC) AS rn "
            f"FROM {{spine_n}} s JOIN {{g{i}}} g ON s.entity_id = g.entity_id AND g.ts <= s.ts)"
        )
        joins.append(f"LEFT JOIN m{i} ON s.rid = m{i}.rid AND m{i}.rn = 1")
        columns += [f"m{i}.{prefix}_f{j}" for j in range(FEATURES)]
    sql = (
        "WITH " + ", ".join(ctes) + f" SELECT s.entity_id, s.ts, {', '.join(columns)} FROM {{spine_n}} s "
        + " ".join(joins) + " ORDER BY s.rid"
    )
    return spark.sql(sql, **frames)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="100k spine x 3 groups of ~1M rows")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keys, per_key, spine_rows = (100_000, 10, 100_000) if args.scale else (10_000, 10, 10_000)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")

    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "box") as project:
        fs = project.get_feature_store()
        names = []
        for index, prefix in enumerate(("a", "b", "c")):
            group = make_group(prefix, keys, per_key, seed=index)
            fs.create_feature_group(prefix, 1, primary_key=["entity_id"], event_time="ts", statistics=False).insert(group)
            names += [f"{prefix}_f{j}" for j in range(FEATURES)]
            print(f"group {prefix}: {group.num_rows:,} rows x {group.num_columns} columns")
        spine = make_spine(keys, spine_rows, seed=42)
        print(f"spine: {spine.num_rows:,} rows; Spark local[2]")
        files = {p: list(fs.get_feature_group(p, 1)._planner_pin(None).files) for p in ("a", "b", "c")}
        spark_spine = spark.createDataFrame(spine)

        t_hand, hand = timed(lambda: hand_written(spark, files, spark_spine).toArrow(), args.repeats)  # type: ignore[attr-defined]
        t_spark, on_spark = timed(
            lambda: fs.get_features(names, entity_df=spark_spine, engine="spark", spark=spark).toArrow(), args.repeats
        )
        t_duck, on_duck = timed(lambda: fs.get_features(names, entity_df=spine, dataframe_type="arrow"), args.repeats)

        same = on_spark.select(names).equals(on_duck.select(names)) and hand.select(  # type: ignore[attr-defined]
            hand.column_names[2:]  # type: ignore[attr-defined]
        ).rename_columns(names).equals(on_duck.select(names))  # type: ignore[attr-defined]
        print(f"hand-written Spark SQL      : {t_hand:7.3f} s")
        print(f"lakebox on Spark            : {t_spark:7.3f} s   ratio {t_spark / t_hand:5.2f}x (target <= 1.2x)")
        print(f"lakebox on DuckDB           : {t_duck:7.3f} s   ratio {t_duck / t_hand:5.2f}x of hand-written Spark")
        print(f"same rows on all three      : {same}")
        print(f"peak RSS (driver process)   : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB")
    spark.stop()


if __name__ == "__main__":
    main()
