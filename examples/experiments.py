"""Experiments in one page: one training function, run as a single run, a hyperparameter search,
an ablation study and data-parallel torch.distributed training; the best model registered, and
its lineage back to the feature groups. Run: .venv/bin/python examples/experiments.py

The training functions are plain functions at the top of this file: lagom starts worker
processes (spawn) that import them, which is also why the script's work sits under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import lakebox
from lakebox import experiment


def ridge(alpha: float, dataset_factory: Any) -> dict[str, Any]:
    """Ridge regression in numpy; returns the test R^2 and the weights as a file."""
    x_train, x_test, y_train, y_test = dataset_factory()
    a = np.column_stack([x_train.to_numpy(float), np.ones(len(x_train))])
    b = y_train.to_numpy(float).ravel()
    weights = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ b)
    predicted = np.column_stack([x_test.to_numpy(float), np.ones(len(x_test))]) @ weights
    actual = y_test.to_numpy(float).ravel()
    r2 = 1 - ((actual - predicted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    path = Path(tempfile.mkdtemp()) / "weights.npy"
    np.save(path, weights)
    print(f"alpha={alpha:.4g} features={list(x_train.columns)} r2={r2:.4f}")
    return {"r2": float(r2), "weights": str(path)}


def torch_linear(lr: float, dataset_factory: Any, epochs: int = 20) -> dict[str, Any]:
    """The same regression in torch; data-parallel under TorchDistributedConfig, plain elsewhere."""
    import torch

    x_train, _, y_train, _ = dataset_factory()
    x = torch.tensor(x_train.to_numpy(np.float32))
    y = torch.tensor(y_train.to_numpy(np.float32))
    x, y = experiment.shard((x, y))  # this rank's rows (all of them outside torch.distributed)
    torch.manual_seed(0)
    model = experiment.prepare_model(torch.nn.Linear(x.shape[1], 1))  # DDP when distributed
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        experiment.report(-loss.item(), step=epoch)  # in a search, lets early stopping cut bad trials
    print(f"rank {experiment.rank()}: {len(x)} rows, final loss {loss.item():.3f}")
    return {"loss": loss.item()}


def build_data(fs: Any) -> Any:
    rng = np.random.default_rng(0)
    n = 200
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    stats = pd.DataFrame({"player_id": range(n), "ts": ts, "age": rng.uniform(18, 40, n),
                          "rating": rng.uniform(50, 100, n), "noise": rng.normal(0, 1, n)})
    target = pd.DataFrame({"player_id": range(n), "ts": ts + pd.Timedelta(days=1),
                           "goals": 0.5 * stats["rating"] - 0.2 * stats["age"] + rng.normal(0, 1, n)})
    players = fs.create_feature_group("players", version=1, primary_key=["player_id"], event_time="ts")
    players.insert(stats)
    goals = fs.create_feature_group("goals", version=1, primary_key=["player_id"], event_time="ts")
    goals.insert(target)
    view = fs.create_feature_view("scoring", 1, query=goals.select_all().join(players.select(["age", "rating", "noise"])),
                                  labels=["goals"])
    view.create_training_dataset(test_size=0.25, seed=1)
    return view


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = lakebox.connect(Path(tmp) / "experiments.lakebox")
        view = build_data(project.get_feature_store())

        # one run, in a child process
        single = experiment.lagom(ridge, experiment.Config("ridge", {"alpha": 1.0}, feature_view=view))
        print("single run:", single.metrics)

        # a hyperparameter search over parallel workers
        search = experiment.lagom(ridge, experiment.HyperparameterOptConfig(
            name="ridge_search", feature_view=view, searchspace=experiment.Searchspace(alpha=("DOUBLE", [1e-3, 1e3], "log")),
            optimizer="randomsearch", num_trials=8, metric="r2", direction="max", seed=0, workers=2))
        print(f"best alpha {search.best_hp['alpha']:.4g}: r2 = {search.best_val:.4f}")

        # which features matter: leave each out once
        ablation = experiment.lagom(ridge, experiment.AblationConfig(
            name="ridge_ablation", feature_view=view, hparams={"alpha": search.best_hp["alpha"]}, metric="r2"))
        print("ablation (r2 without each feature):", {k: round(v, 3) for k, v in ablation.ablation.items()})

        # data-parallel torch training on 2 CPU processes (NCCL on GPUs when there are enough)
        ddp = experiment.lagom(torch_linear, experiment.TorchDistributedConfig(
            "torch_ddp", {"lr": 0.05}, world_size=2, feature_view=view))
        print("torch.distributed, averaged over ranks:", ddp.metrics)

        # register the best model with its weights; the lineage reaches the feature groups
        mr = project.get_model_registry()
        model = mr.create_model("goals_ridge", metrics={"r2": search.best_val}, training_dataset=(view, 1),
                                description="ridge regression of goals on player features")
        model.save(search.files["weights"])
        best = mr.get_best_model("goals_ridge", "r2", direction="max")
        print(f"registered {best.name} v{best.version} with files {best.files}")
        print(project.lineage(best, direction="up"))
        print("experiments:", [(e.name, e.run, e.status) for e in project.get_experiments()])
        project.close()


if __name__ == "__main__":
    main()
