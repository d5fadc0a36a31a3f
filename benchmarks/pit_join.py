"""Point-in-time training data: lakebox get_features vs hand-written DuckDB over the same files.

    python benchmarks/pit_join.py            # 10k spine x 3 groups of 100k rows (quick)
    python benchmarks/pit_join.py --scale    # 100k spine x 3 groups of ~1M rows, 10 features each
    python benchmarks/pit_join.py --spill    # 5M spine x one 20M-row group under a 4 GB DuckDB
                                             # memory limit (spills into the box's .tmp); peak RSS

Both sides read the same Parquet files (the groups' current Iceberg data files), with DuckDB
on the same number of threads. The floor is the best exact hand-written query we know for
this shape (hash join + row_number per spine row); the ASOF formulation is timed too.
Prints times, ratios (target: lakebox within 1.2x of the floor) and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
from pit_data import FEATURES, floor_sql, make_group, make_spine, timed  # noqa: E402 - sibling module

import lakebox
from lakebox.queries import pin_resolver
from lakebox.query.bind import bind
from lakebox.query.duck import execute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="100k spine x 3 groups of ~1M rows")
    parser.add_argument("--spill", action="store_true", help="5M spine x 20M rows under a 4 GB memory limit")
    parser.add_argument("--rows", type=int, default=20_000_000, help="group rows for --spill")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.spill:
        spill(args.rows)
        return
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
            files[prefix] = list(fs.get_feature_group(prefix, 1)._planner_pin(None).files)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("spine", spine)
        sql = floor_sql(files)
        t_floor, floor = timed(lambda: con.sql(sql).to_arrow_table(), args.repeats)

        t_lakebox, result = timed(lambda: fs.get_features(names, entity_df=spine, dataframe_type="arrow"), args.repeats)
        plan = bind(fs._feature_plan(names, spine, None, None, None), pin_resolver(store=fs))
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


def spill(group_rows: int) -> None:
    """A point-in-time join larger than DuckDB's memory limit: it must spill, not fail."""
    keys, per_key = group_rows // 20, 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "box"
        project = lakebox.connect(root)
        with open(root / "lakebox.toml", "a") as toml:
            toml.write('duckdb_memory_limit = "4GB"\n')
        fs = project.get_feature_store()
        fg = fs.create_feature_group("a", 1, primary_key=["entity_id"], event_time="ts", statistics=False)
        step = 2_000_000
        for start in range(0, keys, step // per_key):  # insert in slices: ingestion is not measured
            part = make_group("a", min(step // per_key, keys - start), per_key, seed=start)
            part = part.set_column(0, "entity_id", pa.array(part.column("entity_id").to_numpy() + start))
            fg.insert(part)
        spine = make_spine(keys, group_rows // 4, seed=42)
        print(f"group: {group_rows:,} rows; spine: {spine.num_rows:,} rows; duckdb_memory_limit = 4GB")
        names = [f"a_f{j}" for j in range(FEATURES)]
        t, result = timed(lambda: fs.get_features(names, entity_df=spine, dataframe_type="arrow"), 1)
        spilled = root / ".tmp"
        print(f"lakebox get_features        : {t:7.3f} s, {result.num_rows:,} rows")  # type: ignore[attr-defined]
        print(f"spill folder used           : {spilled.exists()} ({spilled})")
        print(f"peak RSS                    : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MiB")


if __name__ == "__main__":
    main()
