"""Data shared by the online serving benchmarks.

No lakebox import: the Feast peer benchmark (benchmarks/peers/feast_online.py) runs in its own
virtualenv and imports this module too, so both see exactly the same rows.
"""

from __future__ import annotations

import socket
import statistics

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(name: str, samples: list[float], floor: list[float] | None = None, width: int = 34) -> None:
    """One line: p50 and p99 in microseconds, and the p50 ratio to ``floor`` when given."""
    p50, p99 = statistics.median(samples) * 1e6, percentile(samples, 0.99) * 1e6
    line = f"{name:<{width}} p50 {p50:8.1f} us   p99 {p99:8.1f} us"
    if floor:
        line += f"   p50 ratio {p50 / (statistics.median(floor) * 1e6):5.2f}x"
    print(line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
