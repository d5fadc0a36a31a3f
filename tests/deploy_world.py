"""A small feature store with a trained scikit-learn model, shared by the deployment and
monitor tests: ``players`` (online, event time) joined with ``teams`` (online, no event
time) onto a ``labels`` spine, a view with a fitted ``standard_scaler``, a training dataset,
and two registered versions of a linear model (v2 predicts twice v1, so answers tell them
apart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
DAY1 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class World:
    project: Any
    fs: Any
    view: Any
    td_version: int
    models: list[Any]
    estimators: list[Any]
    players: Any
    n: int


def players_table(n: int, seed: int = 1, shift: float = 0.0, start: int = 0, when: datetime = DAY1) -> pa.Table:
    rng = np.random.default_rng(seed)
    pids = np.arange(start, start + n, dtype=np.int64)
    return pa.table({
        "pid": pa.array(pids, pa.int64()),
        "ts": pa.array([when] * n, TS),
        "age": pa.array(rng.normal(27.0, 4.0, n) + shift * 4.0, pa.float64()),
        "skill": pa.array(rng.normal(50.0, 10.0, n) + shift * 10.0, pa.float64()),
        "team_id": pa.array(pids % 5, pa.int64()),
    })  # fmt: skip


def build(project: Any, tmp: Path, n: int = 200) -> World:
    import joblib
    from sklearn.linear_model import LinearRegression

    fs = project.get_feature_store()
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    teams = fs.create_feature_group("teams", version=1, primary_key=["team_id"], online_enabled=True)
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    table = players_table(n)
    players.insert(table)
    teams.insert(pa.table({"team_id": pa.array(range(5), pa.int64()), "budget": pa.array([10.0, 20.0, 35.0, 5.0, 12.5])}))
    age, skill = table["age"].to_numpy(), table["skill"].to_numpy()
    target = 3.0 * age + 0.5 * skill + (table["team_id"].to_numpy() * 2.0)
    labels.insert(pa.table({
        "pid": table["pid"], "ts": pa.array([DAY1 + timedelta(days=4)] * n, TS), "target": pa.array(target, pa.float64()),
    }))  # fmt: skip
    query = labels.select(["target"]).join(players.select(["age", "skill", "team_id"])).join(teams.select(["budget"]), on=["team_id"])
    view = fs.create_feature_view("scores", version=1, query=query, labels=["target"],
                                  transformation_functions={"age": "standard_scaler"})  # fmt: skip
    td = view.create_training_dataset(test_size=0.2, seed=3)
    x_train, _, y_train, _ = view.get_training_data(td)
    mr = project.get_model_registry()
    models, estimators = [], []
    for version, scale in ((1, 1.0), (2, 2.0)):
        est = LinearRegression().fit(x_train, y_train.iloc[:, 0] * scale)
        folder = tmp / f"model_v{version}"
        folder.mkdir()
        joblib.dump(est, folder / "model.joblib")
        model = mr.create_model("score_model", metrics={"r2": 0.9 + version / 100}, training_dataset=(view, td))
        model.save(folder)
        models.append(model)
        estimators.append(est)
    return World(project, fs, view, td, models, estimators, players, n)


# a predictor.py (class Predict) that fails on purpose for team 2 (budget 35)
PREDICTOR = '''
import json, pathlib
class Predict:
    def __init__(self, model_dir):
        self.scale = json.loads((pathlib.Path(model_dir) / "scale.json").read_text())["scale"]
    def predict(self, features):
        if (features["budget"] > 30).any():
            raise RuntimeError("budget too high for this toy")
        return (features["skill"] * self.scale).to_numpy()
'''
