"""Data and the hand-written floor query shared by the point-in-time benchmarks.

No lakebox import: the Feast peer benchmark (benchmarks/peers/) runs in its own virtualenv
and imports this module too, so both see exactly the same rows.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

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
