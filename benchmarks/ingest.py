"""Ingestion speed: lakebox insert vs writing the same Arrow table to Parquet with pyarrow.

    python benchmarks/ingest.py [--rows 1000000] [--small-commits 50]

Prints both timings and the ratio (target: lakebox within 2x of the pyarrow floor), the p50
latency of a small (100-row) commit, and the cost of an insert that replaces existing
(key, event time) pairs. Run on an otherwise idle machine; numbers are noisy on shared ones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import lakebox


def make_table(rows: int, start_id: int = 0, day: int = 0, seed: int = 7) -> pa.Table:
    """rows x 12 columns: key, event time, 6 floats, 2 ints, 2 strings."""
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2026-01-01T00:00:00", "us") + np.timedelta64(day, "D")
    columns: dict[str, pa.Array] = {
        "entity_id": pa.array(np.arange(start_id, start_id + rows, dtype=np.int64)),
        "ts": pa.array(np.full(rows, ts), pa.timestamp("us", tz="UTC")),
    }
    for i in range(6):
        columns[f"f{i}"] = pa.array(rng.standard_normal(rows))
    for i in range(2):
        columns[f"n{i}"] = pa.array(rng.integers(0, 1000, rows))
    for i in range(2):
        columns[f"s{i}"] = pa.array(np.char.add("cat_", rng.integers(0, 50, rows).astype(str)))
    return pa.table(columns)


def best_of(repeats: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-commits", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = make_table(args.rows)
    print(f"table: {data.num_rows:,} rows x {data.num_columns} columns, {data.nbytes / 1e6:.0f} MB in memory")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        counter = iter(range(1_000_000))

        def floor() -> None:
            pq.write_table(data, root / f"floor_{next(counter)}.parquet", compression="zstd")

        def lakebox_insert() -> None:
            project = lakebox.connect(root / f"box_{next(counter)}")
            fs = project.get_feature_store()
            # statistics=False: this measures the write path; an insert with statistics (the
            # default) is measured on its own below, and at scale by benchmarks/scale.py
            fg = fs.create_feature_group("bench", 1, primary_key=["entity_id"], event_time="ts", statistics=False)
            fg.insert(data)
            project.close()

        t_floor = best_of(args.repeats, floor)
        t_lakebox = best_of(args.repeats, lakebox_insert)
        print(f"pyarrow write_table (floor): {t_floor:8.3f} s")
        print(f"lakebox fg.insert          : {t_lakebox:8.3f} s   ratio {t_lakebox / t_floor:5.2f}x  (target <= 2x)")

        project = lakebox.connect(root / "small")
        fs = project.get_feature_store()
        fg = fs.create_feature_group("small", 1, primary_key=["entity_id"], event_time="ts", statistics=False)
        latencies = []
        for i in range(args.small_commits):
            batch = make_table(100, start_id=i * 100, day=i, seed=i)
            start = time.perf_counter()
            fg.insert(batch)
            latencies.append(time.perf_counter() - start)
        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p90 = latencies[int(len(latencies) * 0.9) - 1] * 1000
        print(f"small commit (100 rows)    : p50 {p50:6.1f} ms, p90 {p90:6.1f} ms over {len(latencies)} commits")

        # Replacing existing pairs: 100k re-inserted (key, event time) pairs into the big group.
        project = lakebox.connect(root / "update")
        fs = project.get_feature_store()
        fg = fs.create_feature_group("upd", 1, primary_key=["entity_id"], event_time="ts", statistics=False)
        fg.insert(data)
        updates = make_table(min(100_000, args.rows), seed=99)
        start = time.perf_counter()
        commit = fg.insert(updates)
        t_update = time.perf_counter() - start
        print(
            f"replace {commit.rows_updated:,} pairs in {args.rows:,}: {t_update:6.3f} s "
            f"(inserted {commit.rows_inserted}, updated {commit.rows_updated})"
        )
        start = time.perf_counter()
        new_day = make_table(min(100_000, args.rows), day=1, seed=5)
        fg.insert(new_day)
        print(f"append 100k new event times to {args.rows:,}: {time.perf_counter() - start:6.3f} s")

        project = lakebox.connect(root / "stats")
        fs = project.get_feature_store()
        fg = fs.create_feature_group("stats", 1, primary_key=["entity_id"], event_time="ts", statistics=True)
        start = time.perf_counter()
        fg.insert(data)
        t_stats = time.perf_counter() - start
        project.engines.writer.wait_statistics()  # a big insert stores its statistics in the background
        t_stored = time.perf_counter() - start
        print(f"insert with statistics=True     : {t_stats:8.3f} s   ({t_stats / t_floor:5.2f}x the floor; "
              f"its statistics (O(batch), in the background) stored after {t_stored:.3f} s = "
              f"{t_stored / t_floor:.2f}x)")


if __name__ == "__main__":
    main()
