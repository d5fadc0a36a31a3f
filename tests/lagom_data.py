"""A small feature view with a materialised training dataset, for the experiment and registry tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from helpers import TS, day

N = 60


def training_view(fs: Any) -> Any:
    """``labels`` (pid, ts, target) joined with ``players`` (age, noise): target = 2 * age + small noise.

    Training dataset v1 of view ``players_view`` v1 is a seeded 75/25 split (parquet).
    """
    rng = np.random.default_rng(7)
    age = rng.uniform(18, 40, N)
    noise = rng.normal(0, 1, N)
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts",
                                      description="player features")
    labels.insert(pa.table({
        "pid": pa.array(range(N), pa.int64()),
        "ts": pa.array([day(2)] * N, TS),
        "target": pa.array(2 * age + 0.05 * rng.normal(0, 1, N), pa.float64()),
    }))
    players.insert(pa.table({
        "pid": pa.array(range(N), pa.int64()),
        "ts": pa.array([day(1)] * N, TS),
        "age": pa.array(age, pa.float64()),
        "noise": pa.array(noise, pa.float64()),
    }))
    query = labels.select_all().join(players.select(["age", "noise"]))
    view = fs.create_feature_view("players_view", version=1, query=query, labels=["target"])
    view.create_training_dataset(test_size=0.25, seed=1)
    return view
