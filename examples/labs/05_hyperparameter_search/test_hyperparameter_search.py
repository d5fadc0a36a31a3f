"""Tests of lab 5 (run: pytest -q). The search starts a worker process per trial batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hyperparameter_search import ALPHAS, best_model, register_best, search


@pytest.fixture
def setup(lakebox_box, lakebox_feature_group):
    rng = np.random.default_rng(0)
    n = 120
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    stats = pd.DataFrame({"player_id": range(n), "ts": ts, "age": rng.uniform(18, 40, n),
                          "rating": rng.uniform(50, 100, n), "noise": rng.normal(0, 1, n)})
    goals = pd.DataFrame({"player_id": range(n), "ts": ts + pd.Timedelta(days=1),
                          "goals": 0.5 * stats["rating"] - 0.2 * stats["age"] + rng.normal(0, 1, n)})
    players = lakebox_feature_group("players", stats, primary_key=["player_id"], event_time="ts")
    labels = lakebox_feature_group("goals", goals, primary_key=["player_id"], event_time="ts")
    fs = lakebox_box.get_feature_store()
    view = fs.create_feature_view("scoring", 1, query=labels.select_all().join(players.select(["age", "rating", "noise"])),
                                  labels=["goals"])
    view.create_training_dataset(test_size=0.25, seed=1)
    return lakebox_box, view


def test_search_registers_and_finds_the_best(setup):
    project, view = setup
    result = search(project, view)
    assert len(result.trials) == len(ALPHAS)
    assert result.best_hp["alpha"] in ALPHAS
    assert result.best_val > 0.9  # the label is nearly linear in the features
    assert result.best_hp["alpha"] != 10000.0  # too much regularisation is never best here

    model = register_best(project, view, result)
    assert (model.name, model.version) == ("goals_ridge", 1)
    assert model.files == ["weights.npy"]
    assert model.training_metrics["r2"] == pytest.approx(result.best_val)

    worse = project.get_model_registry().create_model("goals_ridge", metrics={"r2": 0.1})
    assert worse.version == 2
    best = best_model(project)
    assert best.version == 1
