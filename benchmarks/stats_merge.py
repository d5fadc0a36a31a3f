"""Statistics cost O(batch): summarising a batch against recomputing a whole group.

Prints, in one run: ``summarize`` of one batch, ``compute_statistics`` over that batch and over
a group of ``--groups`` batches (the old per-commit cost), merging the batch's summary into the
group's running summary, and the summary's JSON size.

    .venv/bin/python benchmarks/stats_merge.py                 # 1M-row batch, 10M-row group
    .venv/bin/python benchmarks/stats_merge.py --rows 100000   # smaller
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pyarrow as pa

from lakebox.stats import compute_statistics, summarize


def batch(rows: int, seed: int) -> pa.Table:
    """12 columns as in benchmarks/scale.py: a key, 8 floats, an int, a string, a timestamp."""
    rng = np.random.default_rng(seed)
    columns = {"id": rng.integers(0, 1 << 40, rows)}
    columns |= {f"f{i}": rng.normal(i, 1 + i, rows) for i in range(8)}
    columns["n"] = rng.integers(0, 1000, rows)
    columns["s"] = pa.array([f"v{i}" for i in rng.integers(0, 5000, rows)])
    columns["ts"] = pa.array(rng.integers(1_600_000_000_000_000, 1_700_000_000_000_000, rows), pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def timed(fn):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per batch")
    parser.add_argument("--groups", type=int, default=10, help="batches in the whole group")
    args = parser.parse_args()
    one = batch(args.rows, 0)
    group = pa.concat_tables([one, *(batch(args.rows, seed) for seed in range(1, args.groups))])
    summary, t_summarize = timed(lambda: summarize(one))
    _, t_compute_batch = timed(lambda: compute_statistics(one))
    _, t_compute_group = timed(lambda: compute_statistics(group))
    running = summarize(group.slice(args.rows))  # the group's running summary before this batch
    merged, t_merge = timed(lambda: running.merge(summary))
    _, t_stats = timed(lambda: merged.statistics())
    size = len(json.dumps(merged.to_dict()))
    per_commit = t_summarize + t_merge + t_stats
    print(f"batch {args.rows:,} rows, group {group.num_rows:,} rows, {one.num_columns} columns")
    print(f"summarize(batch)                     {t_summarize:8.3f} s")
    print(f"merge + statistics()                 {t_merge + t_stats:8.3f} s")
    print(f"compute_statistics(batch)            {t_compute_batch:8.3f} s   summarize/compute: {t_summarize / t_compute_batch:.2f}x")
    print(f"compute_statistics(group)            {t_compute_group:8.3f} s   (the old per-commit cost)")
    print(f"per-commit statistics, new vs old    {per_commit:8.3f} s vs {t_compute_group:.3f} s: "
          f"{t_compute_group / per_commit:.1f}x cheaper")
    print(f"summary JSON                         {size:,} bytes ({size / one.num_columns:,.0f} per feature)")


if __name__ == "__main__":
    main()
