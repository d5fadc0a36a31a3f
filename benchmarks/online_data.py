"""Data shared by the online serving benchmarks.

No lakebox import: the Feast peer benchmark (benchmarks/peers/feast_online.py) runs in its own
virtualenv and imports this module too, so both see exactly the same rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

FEATURES = 10
GROUPS = ("a", "b", "c")


def make_group(prefix: str, keys: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {
        "entity_id": pa.array(np.arange(keys, dtype=np.int64)),
        "ts": pa.array(np.full(keys, np.datetime64("2026-01-01T00:00:00", "us")), pa.timestamp("us", tz="UTC")),
    }
    for i in range(FEATURES):
        columns[f"{prefix}_f{i}"] = pa.array(rng.standard_normal(keys))
    return pa.table(columns)
