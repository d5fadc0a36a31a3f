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
from pathlib import Path

import duckdb
from pit_data import FEATURES, floor_sql, make_group, make_spine, timed  # noqa: E402 - sibling module

import lakebox
from lakebox.offline import reader
from lakebox.query.execute import execute
from lakebox.query.resolve import plan_features


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
