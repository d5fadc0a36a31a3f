"""Peer benchmark: Feast online serving (SQLite online store) on the data of benchmarks/online.py.

Runs in its own virtualenv (Feast is never a lakebox dependency; lakebox is not imported here):

    bash benchmarks/peers/install_feast.sh
    benchmarks/peers/.venv-feast/bin/python benchmarks/peers/feast_online.py [--keys 100000] [--requests 3000]

The groups come from benchmarks/online_data.py (make_group, shared with benchmarks/online.py): 3 groups
a, b, c x 10 float features, keys 0..keys-1 as entity_id, one event time for every row. Each group is
written to one Parquet file; a Feast repo is defined in code (RepoConfig: local provider, file registry
and SQLite online store in a temp dir, one FeatureView per group over a FileSource, 10-year ttl) and:
- store.materialize(start, end) is timed (all 3 views; offline store --offline, default file/dask);
- store.get_online_features(features=[30 features], entity_rows=[{"entity_id": k}]).to_dict() is timed
  per call for --requests random keys (p50/p99; after a warm-up), next to a raw SQLite floor: the same
  SELECT Feast's SQLite store issues (one per view, on Feast's own tables and serialized keys) plus
  ValueProto decoding, with no Feast code on the path;
- the same call with batches of 100 keys;
- correctness: a sample of the returned vectors (single and batch) against the Parquet files read back
  (latest row per key), exact float equality.
For lakebox's numbers run benchmarks/online.py in the lakebox venv on the same machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared data module
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared Feast repo definition
from feast_repo import feast_store  # noqa: E402
from online_data import FEATURES, GROUPS, make_group  # noqa: E402

EVENT_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # the one event time of make_group


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def row(name: str, samples: list[float], floor: list[float] | None = None) -> str:
    p50, p99 = statistics.median(samples) * 1e6, percentile(samples, 0.99) * 1e6
    line = f"{name:<44} p50 {p50:9.1f} us   p99 {p99:9.1f} us   n={len(samples):,}"
    if floor:
        line += f"   p50 ratio {p50 / (statistics.median(floor) * 1e6):6.2f}x the floor"
    return line


def latest_per_key(path: str, prefix: str) -> dict[int, list[float]]:
    """The Parquet source read back: the latest row per entity_id, as {entity_id: [10 floats]}."""
    table = pq.read_table(path)
    order = pc.sort_indices(table, sort_keys=[("entity_id", "ascending"), ("ts", "descending")])
    table = table.take(order)
    ids = table["entity_id"].to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    keep = table.filter(pa.array(first))
    values = np.column_stack([keep[f"{prefix}_f{j}"].to_numpy() for j in range(FEATURES)])
    return dict(zip(keep["entity_id"].to_pylist(), values.tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000, help="entity keys per group (default 100000)")
    parser.add_argument("--requests", type=int, default=3_000, help="timed single-key calls (default 3000)")
    parser.add_argument("--batches", type=int, default=100, help="timed 100-key calls (default 100)")
    parser.add_argument("--check", type=int, default=500, help="vectors checked against the Parquet source")
    parser.add_argument("--offline", default="file", help="offline store read by materialize: file (dask) or duckdb")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import feast
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto

    print(
        f"feast {feast.__version__}, pyarrow {pa.__version__}, sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}"
    )
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().split()[:3]}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        (root / "repo").mkdir()
        files = {}
        for index, prefix in enumerate(GROUPS):
            files[prefix] = str(root / "data" / f"{prefix}.parquet")
            pq.write_table(make_group(prefix, args.keys, index), files[prefix])
        store = feast_store(root / "repo", files, args.offline, FEATURES, GROUPS, online=True, project="online")
        features = [f"{prefix}:{prefix}_f{j}" for prefix in GROUPS for j in range(FEATURES)]
        names = [f"{prefix}_f{j}" for prefix in GROUPS for j in range(FEATURES)]

        start = time.perf_counter()
        store.materialize(EVENT_TIME - timedelta(days=1), EVENT_TIME + timedelta(days=1))
        t_materialize = time.perf_counter() - start
        online_db = root / "repo" / "online.db"
        rows_online = 0
        with sqlite3.connect(online_db) as con:
            tables = {p: f"online_{p}" for p in GROUPS}
            present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert set(tables.values()) <= present, (tables, present)
            for t in tables.values():
                rows_online += con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        print(
            f"materialize: {t_materialize:.2f} s for {len(GROUPS)} x {args.keys:,} keys "
            f"({rows_online:,} SQLite rows = key x feature; online.db {online_db.stat().st_size / 2**20:.0f} MiB)"
        )

        rng = random.Random(1)
        ids = [rng.randrange(args.keys) for _ in range(args.requests)]

        def single(entity: int) -> dict:  # type: ignore[type-arg]
            return store.get_online_features(features=features, entity_rows=[{"entity_id": entity}]).to_dict()

        start = time.perf_counter()
        single(0)
        t_first = time.perf_counter() - start
        for entity in ids[:200]:  # warm-up
            single(entity)

        # raw floor: the SELECT of Feast's SQLite store (one per view) + ValueProto decode, no Feast on the path
        con = sqlite3.connect(online_db)
        selects = [
            f'SELECT entity_key, feature_name, value, event_ts FROM "{tables[p]}" WHERE entity_key IN (?) ORDER BY entity_key'
            for p in GROUPS
        ]

        def floor_get(entity: int) -> dict[str, float]:
            key = EntityKeyProto(join_keys=["entity_id"], entity_values=[ValueProto(int64_val=entity)])
            blob = serialize_entity_key(key, entity_key_serialization_version=3)
            out: dict[str, float] = {}
            cur = con.cursor()
            for sql in selects:
                for _, feature_name, value, _ in cur.execute(sql, (blob,)).fetchall():
                    proto = ValueProto()
                    proto.ParseFromString(value)
                    out[feature_name] = proto.double_val
            return out

        for entity in ids[:200]:
            floor_get(entity)
        floor_samples = []
        for entity in ids:
            start = time.perf_counter()
            floor_get(entity)
            floor_samples.append(time.perf_counter() - start)

        samples = []
        for entity in ids:
            start = time.perf_counter()
            single(entity)
            samples.append(time.perf_counter() - start)

        batch_ids = [[rng.randrange(args.keys) for _ in range(100)] for _ in range(args.batches)]
        batch_samples = []
        batch_results = []
        for batch in batch_ids:
            start = time.perf_counter()
            result = store.get_online_features(
                features=features, entity_rows=[{"entity_id": e} for e in batch]
            ).to_dict()
            batch_samples.append(time.perf_counter() - start)
            batch_results.append(result)

        # correctness against the Parquet source (latest row per key)
        source: dict[int, list[float]] = {}
        for prefix in GROUPS:
            for key, values in latest_per_key(files[prefix], prefix).items():
                source.setdefault(key, []).extend(values)
        checked, wrong = 0, []
        for entity in ids[: args.check]:
            got = single(entity)
            vector = [got[n][0] for n in names]
            checked += 1
            if got["entity_id"] != [entity] or vector != source[entity]:
                wrong.append(entity)
        for batch, result in zip(batch_ids[: max(1, args.check // 100)], batch_results, strict=False):
            assert result["entity_id"] == batch, "batch result out of order"
            for i, entity in enumerate(batch):
                checked += 1
                if [result[n][i] for n in names] != source[entity]:
                    wrong.append(entity)
        floor_ok = all([floor_get(e)[n] for n in names] == source[e] for e in ids[:50])
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]

        print()
        print(
            f"Feast {feast.__version__} online serving, SQLite online store, {len(GROUPS)} views x {FEATURES} float "
            f"features, {args.keys:,} keys (load average at end: {' '.join(load)})"
        )
        print(
            f"{'materialize (3 views, ' + args.offline + ' offline store)':<44} {t_materialize:9.2f} s   "
            f"({len(GROUPS) * args.keys / t_materialize:,.0f} key-rows/s)"
        )
        print(f"{'first get_online_features call (cold)':<44} {t_first * 1e3:9.1f} ms")
        print(f"single vector, 30 features ({len(ids):,} random keys, after 200 warm-up calls):")
        print(row("  raw SQLite SELECT x3 + decode (floor)", floor_samples))
        print(row("  get_online_features(...).to_dict()", samples, floor_samples))
        print(f"batch of 100 keys ({len(batch_ids):,} batches):")
        print(row("  get_online_features(...).to_dict()", batch_samples))
        per_key = statistics.median(batch_samples) / 100 * 1e6
        print(f"  {'per key at the batch p50':<42} {per_key:9.1f} us")
        print(
            f"correctness: {checked:,} vectors x 30 features vs the Parquet source (latest row per key): "
            f"{'all equal' if not wrong else f'{len(wrong)} differ, e.g. keys {wrong[:5]}'}; "
            f"floor vectors {'equal' if floor_ok else 'DIFFER'}"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        con.close()
        if wrong or not floor_ok:
            sys.exit(1)


if __name__ == "__main__":
    main()
