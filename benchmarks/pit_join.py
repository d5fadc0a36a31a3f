"""Point-in-time training data: lakebox get_features vs hand-written DuckDB over the same files.

    python benchmarks/pit_join.py            # 10k spine x 3 groups of 100k rows (quick)
    python benchmarks/pit_join.py --scale    # 100k spine x 3 groups of ~1M rows, 10 features each

Both sides read the same Parquet files (the groups' current Iceberg data files), with DuckDB
on the same number of threads. The floor is the best exact hand-written query we know for
this shape (hash join + row_number per spine row); the ASOF formulation is timed too.
Prints times, ratios (target: lakebox within 1.2x of the floor) and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

import lakebox
from lakebox.offline import reader
from lakebox.query.execute import execute
from lakebox.query.resolve import plan_features

FEATURES = 10


def make_group(prefix: str, keys: int, per_key: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = keys * per_key
    base = np.datetime64("2026-01-01T00:00:00", "us")
    # one event per key in each of per_key time slots: (key, ts) is unique by construction
    slot = 90 * 24 * 3600 // per_key
    seconds = np.tile(np.arange(per_key) * slot, keys) + rng.integers(0, slot, rows)
    offsets = seconds.astype("timedelta64[s]").astype("timedelta64[us]")
    table = {
        "entity_id": pa.array(np.repeat(np.arange(keys, dtype=np.int64), per_key)),
        "ts": pa.array(base + offsets, pa.timestamp("us", tz="UTC")),
    }
    for i in range(FEATURES):
        table[f"{prefix}_f{i}"] = pa.array(rng.standard_normal(rows))
    return pa.table(table)


def make_spine(keys: int, rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    base = np.datetime64("2026-01-01T00:00:00", "us")
    offsets = rng.integers(0, 90 * 24 * 3600, rows).astype("timedelta64[s]").astype("timedelta64[us]")
    return pa.table(
        {
            "entity_id": pa.array(rng.integers(0, keys, rows)),
            "ts": pa.array(base + offsets, pa.timestamp("us", tz="UTC")),
        }
    )


def floor_sql(files: dict[str, list[str]]) -> str:
    """Hand-written exact PIT join: per group, join on key with ts <= spine ts, keep the latest."""
    ctes, joins, columns = [], [], []
    for i, (prefix, paths) in enumerate(files.items()):
        cols = ", ".join(f"g.{prefix}_f{j}" for j in range(FEATURES))
        ctes.append(
            f"m{i} AS (SELECT s.rid, {cols}, row_number() OVER (PARTITION BY s.rid ORDER BY g.ts DESC) AS rn "
            f"FROM spine_n s JOIN read_parquet({paths!r}) g ON s.entity_id = g.entity_id AND g.ts <= s.ts)"
        )
        joins.append(f"LEFT JOIN m{i} ON s.rid = m{i}.rid AND m{i}.rn = 1")
        columns += [f"m{i}.{prefix}_f{j}" for j in range(FEATURES)]
    return (
        "WITH spine_n AS (SELECT *, row_number() OVER () AS rid FROM spine), "
        + ", ".join(ctes)
        + f" SELECT s.entity_id, s.ts, {', '.join(columns)} FROM spine_n s "
        + " ".join(joins)
        + " ORDER BY s.rid"
    )


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="100k spine x 3 groups of ~1M rows")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keys, per_key, spine_rows = (100_000, 10, 100_000) if args.scale else (10_000, 10, 10_000)

    with tempfile.TemporaryDirectory() as tmp:
        project = lakebox.connect(Path(tmp) / "box")
        fs = project.get_feature_store()
        names = []
        for index, prefix in enumerate(("a", "b", "c")):
            group = make_group(prefix, keys, per_key, seed=index)
            fg = fs.create_feature_group(prefix, 1, primary_key=["entity_id"], event_time="ts")
            fg.insert(group)
            names += [f"{prefix}_f{j}" for j in range(FEATURES)]
            print(f"group {prefix}: {group.num_rows:,} rows x {group.num_columns} columns")
        spine = make_spine(keys, spine_rows, seed=42)
        print(f"spine: {spine.num_rows:,} rows")

        files = {}
        for prefix in ("a", "b", "c"):
            fg = fs.get_feature_group(prefix, 1)
            table, snapshot = fg._snapshot_at(None)
            files[prefix] = [reader.local_path(t.file.file_path, table) for t in reader.plan(table, snapshot)]
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("spine", spine)
        sql = floor_sql(files)
        t_floor, floor = timed(lambda: con.sql(sql).to_arrow_table(), args.repeats)

        t_lakebox, result = timed(lambda: fs.get_features(names, entity_df=spine, dataframe_type="arrow"), args.repeats)
        plan = plan_features(fs, names, spine)
        t_asof, asof = timed(lambda: execute(plan, "asof"), args.repeats)
        t_window, window = timed(lambda: execute(plan, "window"), args.repeats)

        assert result.num_rows == spine.num_rows == floor.num_rows  # type: ignore[attr-defined]
        same = floor.select(floor.column_names[2:]).to_pandas().equals(  # type: ignore[attr-defined]
            result.select(names).rename_columns(floor.column_names[2:]).to_pandas()  # type: ignore[attr-defined]
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"hand-written DuckDB (floor) : {t_floor:7.3f} s")
        print(f"lakebox get_features        : {t_lakebox:7.3f} s   ratio {t_lakebox / t_floor:5.2f}x (target <= 1.2x)")
        print(f"  plan 'window' only        : {t_window:7.3f} s   ratio {t_window / t_floor:5.2f}x")
        print(f"  plan 'asof' only          : {t_asof:7.3f} s   ratio {t_asof / t_floor:5.2f}x")
        print(f"results equal to the floor  : {same}; asof == window: {asof.equals(window)}")  # type: ignore[attr-defined]
        print(f"peak RSS                    : {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
