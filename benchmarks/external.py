"""External feature groups: what reading the source at every use costs.

    python benchmarks/external.py [--rows 100000 300000] [--spine 10000]

For each size: the same rows (entities x 4 event times, 8 features) as an internal (Iceberg)
group and as an external group over Parquet files; prints the time of ``fs.get_features``
(point-in-time join onto a spine) for both, the floor of reading the Parquet files alone with
DuckDB, and the ratios. The external group's extra cost is one read of the source plus the key
check (one row per key and event time) at every use; it grows with the source, not the spine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import lakebox
import lakebox.sources as sources


def make_rows(rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    entities = rows // 4
    base = np.datetime64("2026-01-01T00:00:00", "us")
    columns: dict[str, pa.Array] = {
        "entity_id": pa.array(np.repeat(np.arange(entities, dtype=np.int64), 4)),
        "ts": pa.array(np.tile(base + np.arange(4) * np.timedelta64(1, "D"), entities), pa.timestamp("us", tz="UTC")),
    }
    for i in range(8):
        columns[f"f{i}"] = pa.array(rng.standard_normal(entities * 4))
    return pa.table(columns)


def best(fn, repeat: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(rows: int, spine_rows: int, root: Path) -> None:
    table = make_rows(rows)
    folder = root / f"src_{rows}"
    folder.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), folder / "a.parquet")
    pq.write_table(table.slice(half), folder / "b.parquet")
    project = lakebox.connect(root / f"box_{rows}")
    fs = project.get_feature_store()
    internal = fs.create_feature_group("internal_g", primary_key=["entity_id"], event_time="ts", statistics=False)
    internal.insert(table)
    fs.create_external_feature_group("external_g", source=sources.files(folder / "*.parquet"), primary_key=["entity_id"],
                                     event_time="ts", statistics=False)
    rng = np.random.default_rng(5)
    spine = pa.table({
        "entity_id": pa.array(rng.integers(0, rows // 4, spine_rows), pa.int64()),
        "ts": pa.array(np.datetime64("2026-01-02T12:00:00", "us") + rng.integers(0, 48, spine_rows) * np.timedelta64(1, "h"),
                       pa.timestamp("us", tz="UTC")),
    })
    names_in = [f"internal_g.f{i}" for i in range(8)]
    names_out = [f"external_g.f{i}" for i in range(8)]
    t_in = best(lambda: fs.get_features(names_in, entity_df=spine, dataframe_type="arrow"))
    t_out = best(lambda: fs.get_features(names_out, entity_df=spine, dataframe_type="arrow"))
    con = duckdb.connect()
    t_floor = best(lambda: con.read_parquet(str(folder / "*.parquet")).to_arrow_table())
    print(f"rows={rows:>9,} spine={spine_rows:,}: internal {t_in * 1000:7.1f} ms   external {t_out * 1000:7.1f} ms "
          f"(x{t_out / t_in:.2f} of internal)   read source alone {t_floor * 1000:6.1f} ms")
    project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--spine", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            run(rows, args.spine, Path(tmp))


if __name__ == "__main__":
    main()
