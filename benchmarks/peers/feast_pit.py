"""Peer benchmark: Feast point-in-time join (get_historical_features) on the data of benchmarks/pit_join.py.

Runs in its own virtualenv (Feast is never a lakebox dependency; lakebox is not imported here):

    bash benchmarks/peers/install_feast.sh
    benchmarks/peers/.venv-feast/bin/python benchmarks/peers/feast_pit.py            # 10k spine x 3 groups of 100k rows
    benchmarks/peers/.venv-feast/bin/python benchmarks/peers/feast_pit.py --scale    # 100k spine x 3 groups of 1M rows

The data generators and the hand-written exact DuckDB query (floor_sql) come from benchmarks/pit_data.py,
shared with benchmarks/pit_join.py, so both benchmarks see the same rows. Each group is written
to one Parquet file; a Feast repo (local provider, SQLite SQL registry, one FeatureView per group over a
FileSource with timestamp_field ts and a 10-year ttl) is applied programmatically, and
store.get_historical_features(entity_df=spine, features=[...]).to_df() is timed for Feast's default file
offline store (dask) and its DuckDB offline store. Each result is checked against the DuckDB reference:
one row per spine row (share dropped / duplicated) and equal feature values (share of differing cells).
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared data module
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared Feast repo definition
from feast_repo import feast_store  # noqa: E402
from pit_data import FEATURES, floor_sql, make_group, make_spine, timed  # noqa: E402

PREFIXES = ("a", "b", "c")


def micros(series: pd.Series) -> np.ndarray:
    """Timestamps (any unit, any tz) as int64 microseconds since the epoch, for exact key matching."""
    s = pd.to_datetime(series, utc=True)
    return ((s - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy(np.int64)


def check(result: pd.DataFrame, reference: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Compare a Feast result with the reference (one row per spine row, in spine order).

    Rows are matched on (entity_id, event time) since Feast does not keep the spine's order.
    """
    n = len(reference)
    ref = pd.DataFrame({"entity_id": reference["entity_id"].to_numpy(np.int64), "t": micros(reference["ts"])})
    got = pd.DataFrame({"entity_id": result["entity_id"].to_numpy(np.int64), "t": micros(result["event_timestamp"])})
    want_n = ref.value_counts().rename("want")
    got_n = got.value_counts().rename("got")
    counts = pd.concat([want_n, got_n], axis=1).fillna(0)
    dropped = float((counts["want"] - counts["got"]).clip(lower=0).sum())
    # spine rows for which some group has no event at or before the spine time (NULL features in the reference)
    unmatched = np.zeros(n, dtype=bool)
    for prefix in PREFIXES:
        unmatched |= reference[[c for c in names if c.startswith(f"{prefix}_")]].isna().all(axis=1).to_numpy()
    returned = ref.merge(got.drop_duplicates(), on=["entity_id", "t"], how="left", indicator=True)["_merge"] == "both"
    dropped_unmatched = float((~returned.to_numpy() & unmatched).sum())
    extra = float((counts["got"] - counts["want"]).clip(lower=0).sum())

    # cells: one Feast row per key (the first), aligned to the reference rows that Feast returned
    left = pd.concat([ref, reference[names].reset_index(drop=True)], axis=1)
    right = pd.concat([got, result[names].reset_index(drop=True)], axis=1).drop_duplicates(["entity_id", "t"])
    both = left.merge(right, on=["entity_id", "t"], how="inner", suffixes=("", "__feast"))
    a = both[names].to_numpy(np.float64)
    b = both[[f"{c}__feast" for c in names]].to_numpy(np.float64)
    differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    null_ref = np.isnan(a) & ~np.isnan(b)
    null_feast = ~np.isnan(a) & np.isnan(b)
    return {
        "rows": len(result),
        "dropped": dropped / n,
        "duplicated": extra / n,
        "unmatched": float(unmatched.mean()),
        "dropped_unmatched": dropped_unmatched / n,
        "cells": differ.size,
        "differ": float(differ.mean()) if differ.size else float("nan"),
        "value_only_in_feast": float(null_ref.mean()) if differ.size else float("nan"),
        "value_missing_in_feast": float(null_feast.mean()) if differ.size else float("nan"),
        "max_abs_diff": float(np.nanmax(np.abs(a - b))) if differ.size and not np.isnan(a - b).all() else 0.0,
    }


class Timeout(Exception):
    pass


def _alarm(signum, frame):  # type: ignore[no-untyped-def]
    raise Timeout()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="100k spine x 3 groups of ~1M rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="file,duckdb", help="comma-separated Feast offline stores to time")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per store (all repeats)")
    args = parser.parse_args()
    keys, per_key, spine_rows = (100_000, 10, 100_000) if args.scale else (10_000, 10, 10_000)
    warnings.filterwarnings("ignore")

    import feast

    print(f"feast {feast.__version__}, duckdb {duckdb.__version__}, pandas {pd.__version__}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        files, names = {}, []
        for index, prefix in enumerate(PREFIXES):
            group = make_group(prefix, keys, per_key, seed=index)
            files[prefix] = str(root / "data" / f"{prefix}.parquet")
            pq.write_table(group, files[prefix])
            names += [f"{prefix}_f{j}" for j in range(FEATURES)]
            print(f"group {prefix}: {group.num_rows:,} rows x {group.num_columns} columns")
        spine = make_spine(keys, spine_rows, seed=42)
        print(f"spine: {spine.num_rows:,} rows")

        # reference: the exact hand-written query of pit_join.py (timed too: same DuckDB, same threads)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("spine", spine)
        sql = floor_sql({prefix: [path] for prefix, path in files.items()})
        t_floor, floor = timed(lambda: con.sql(sql).to_arrow_table(), args.repeats)
        reference = floor.to_pandas()  # type: ignore[attr-defined]
        reference.columns = ["entity_id", "ts", *names]
        print(f"hand-written DuckDB (floor)       : {t_floor:8.3f} s   (reference for the checks)")

        entity_df = spine.to_pandas().rename(columns={"ts": "event_timestamp"})
        features = [f"{prefix}:{prefix}_f{j}" for prefix in PREFIXES for j in range(FEATURES)]
        findings = []
        for offline in [s.strip() for s in args.stores.split(",") if s.strip()]:
            label = {"file": "file (dask)", "dask": "file (dask)"}.get(offline, offline)
            try:
                store = feast_store(root / f"repo_{offline}", files, offline, FEATURES, PREFIXES, online=False, project="pit")
            except Exception as error:  # e.g. the duckdb extra is not installed
                print(f"Feast {label:<12} offline store : skipped ({type(error).__name__}: {error})")
                continue
            times: list[float] = []
            result = None
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(args.timeout)
            try:
                warnings.filterwarnings("ignore")
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    result = store.get_historical_features(entity_df=entity_df, features=features).to_df()
                    times.append(time.perf_counter() - start)
            except Timeout:
                pass
            finally:
                signal.alarm(0)
            if not times:
                print(f"Feast {label:<12} offline store : TIMED OUT (> {args.timeout} s, no run finished)")
                continue
            best = min(times)
            note = "" if len(times) == args.repeats else f"  (only {len(times)}/{args.repeats} runs within {args.timeout} s)"
            print(
                f"Feast {label:<12} offline store : {best:8.3f} s   ratio {best / t_floor:6.2f}x the floor"
                f"   runs: {', '.join(f'{t:.2f}' for t in times)}{note}"
            )
            findings.append((label, check(result, reference, names)))  # type: ignore[arg-type]

        print("correctness vs the DuckDB reference (rows matched on (entity_id, event time)):")
        for label, c in findings:
            print(
                f"  {label:<12}: {c['rows']:,} rows for {spine.num_rows:,} spine rows; "
                f"dropped {c['dropped']:.2%} (of which with no earlier event in some group: {c['dropped_unmatched']:.2%}; "
                f"such spine rows: {c['unmatched']:.2%}), duplicated {c['duplicated']:.2%}; "
                f"cells differing {c['differ']:.4%} of {c['cells']:,} "
                f"(value only in Feast {c['value_only_in_feast']:.4%}, missing in Feast {c['value_missing_in_feast']:.4%}, "
                f"max |diff| {c['max_abs_diff']:.3g})"
            )
        print(f"peak RSS                          : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")


if __name__ == "__main__":
    main()
