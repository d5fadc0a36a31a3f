"""The demo's training section: two small models of the ``attendance`` view, trained through ``lagom``.

``train_demo_models`` runs a short random search over a scikit-learn gradient-boosting
regressor (4 trials on 2 worker processes) and trains a small torch MLP data-parallel on 2 CPU
processes (``torch.distributed`` with gloo), both reading the view's training dataset through
the dataset factory; it registers both as versions of ``attendance_model`` (metrics, training
dataset, the serialised model as files), picks the best by R² and returns its lineage, which
reaches the feature groups. It returns plain data; ``lakebox.cli.demo_training`` renders it.

The training functions sit at the top of this module so that lagom's worker processes
(spawn) import them by name; torch and scikit-learn are imported inside them, so importing
this module needs neither.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox import experiment

if TYPE_CHECKING:
    from lakebox.experiment import Result
    from lakebox.feature_view import FeatureView
    from lakebox.project import Project

log = logging.getLogger(__name__)

MODEL_NAME = "attendance_model"
SEARCH_NAME = "attendance_gbr_search"
DISTRIBUTED_NAME = "attendance_torch_ddp"
DEMO_TAG = "lakebox_demo"
"""Tag on the models and experiments the demo makes, so that a rebuild deletes only those."""
METRIC = "r2"
SEARCH_TRIALS = 4
WORKERS = 2
WORLD_SIZE = 2
SEED = 7
REQUIREMENTS = ("torch", "sklearn", "optuna")  # the train extra (lagom needs optuna)


def missing_requirements() -> list[str]:
    """The packages the training section needs and this environment lacks (the ``train`` extra)."""
    names = {"sklearn": "scikit-learn"}
    return [names.get(m, m) for m in REQUIREMENTS if importlib.util.find_spec(m) is None]


# -- the training functions (run in lagom's worker processes) --------------------------------------
def gradient_boosting(
    learning_rate: float, max_depth: int, dataset_factory: Any, n_estimators: int = 40
) -> dict[str, Any]:
    """A scikit-learn gradient-boosting regressor of attendance; R² and MAE on the test split."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, r2_score

    x_train, x_test, y_train, y_test = dataset_factory()
    model = GradientBoostingRegressor(
        learning_rate=learning_rate, max_depth=max_depth, n_estimators=n_estimators, random_state=SEED
    )
    model.fit(x_train, y_train.iloc[:, 0])
    predicted = model.predict(x_test)
    r2 = float(r2_score(y_test.iloc[:, 0], predicted))
    mae = float(mean_absolute_error(y_test.iloc[:, 0], predicted))
    folder = Path(tempfile.mkdtemp(prefix="gbr_"))
    with open(folder / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    (folder / "features.json").write_text(json.dumps({"features": list(x_train.columns), "label": y_train.columns[0]}))
    print(f"learning_rate={learning_rate:.3g} max_depth={max_depth}: r2={r2:.4f} mae={mae:,.0f}")
    return {METRIC: r2, "mae": mae, "model": str(folder)}


def torch_mlp(lr: float, dataset_factory: Any, hidden: int = 16, epochs: int = 120) -> dict[str, Any]:
    """A small torch MLP of attendance, data-parallel under ``TorchDistributedConfig``.

    Each rank streams its shard of the train split (``dataset_factory.torch_dataset``), the
    standardisation is computed over all ranks, DDP averages the gradients; the test R² is
    computed from sums over all ranks, so every rank reports the same value.
    """
    import torch

    torch.manual_seed(SEED)
    device = experiment.device()  # cuda:<rank> under NCCL, else the CPU
    x, y = _load(dataset_factory.torch_dataset("train"), device)
    x_test, y_test = _load(dataset_factory.torch_dataset("test"), device)
    count = _sum_over_ranks(torch.tensor([float(len(x))], device=device))
    mean = _sum_over_ranks(x.sum(0)) / count
    std = (_sum_over_ranks(((x - mean) ** 2).sum(0)) / count).sqrt().clamp_min(1e-6)
    y_scale = float((_sum_over_ranks(y.sum().reshape(1)) / count).item())

    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    model = experiment.prepare_model(net.to(device))  # DistributedDataParallel under torch.distributed
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    inputs, targets = (x - mean) / std, (y / y_scale).unsqueeze(1)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()  # DDP averages the gradients over the ranks here
        optimizer.step()
        if epoch % 10 == 9:
            experiment.report(-loss.item(), step=epoch)  # recorded with the run (rank 0)
    with torch.no_grad():
        predicted = (net((x_test - mean) / std).squeeze(1) * y_scale).double()
    actual = y_test.double()
    sums = _sum_over_ranks(torch.stack([
        ((actual - predicted) ** 2).sum(), (actual - predicted).abs().sum(), actual.sum(), (actual**2).sum(),
        torch.tensor(float(len(actual)), dtype=torch.float64, device=device),
    ]))  # fmt: skip
    sse, sae, total, squares, n = (float(v) for v in sums)
    r2 = 1.0 - sse / (squares - total * total / n)
    print(f"rank {experiment.rank()}/{experiment.world_size()}: {len(x)} train rows, final loss {loss.item():.4f}")
    result: dict[str, Any] = {METRIC: r2, "mae": sae / n, "train_rows": float(len(x)), "final_loss": loss.item()}
    result["backend"] = torch.distributed.get_backend() if experiment.is_distributed() else "none"  # an output
    if experiment.is_main():  # rank 0 saves the weights; its files are the run's
        folder = Path(tempfile.mkdtemp(prefix="mlp_"))
        state = {k: v.cpu() for k, v in net.state_dict().items()}
        torch.save({"state_dict": state, "mean": mean.cpu(), "std": std.cpu(), "y_scale": y_scale}, folder / "model.pt")
        result["model"] = str(folder)
    return result


def _load(dataset: Any, device: Any) -> tuple[Any, Any]:
    """This rank's share of a split: the whole shard as ``(features, labels)`` float tensors."""
    import torch

    batches = list(dataset)
    x = torch.cat([b[0] for b in batches]) if batches else torch.zeros(0, len(dataset.feature_columns))
    y = torch.cat([b[1] for b in batches]).float() if batches else torch.zeros(0)
    return x.to(device), y.to(device)


def _sum_over_ranks(tensor: Any) -> Any:
    if not experiment.is_distributed():
        return tensor
    import torch.distributed as dist

    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor


# -- the section (in the caller) --------------------------------------------------------------------
def _tagged(fn: Callable[..., Any], config: Any, project: Project, echo: bool | Callable[[str], None]) -> Result:
    """``lagom``, then tag the run as the demo's (a failed run too, so a rebuild deletes it)."""
    from lakebox.experiment.errors import ExperimentError

    try:
        result = experiment.lagom(fn, config, project, echo=echo)
    except ExperimentError as e:
        if e.result is not None:
            e.result.experiment.add_tag(DEMO_TAG, True)
        raise
    assert result is not None  # the demo's runs start on this node (a node joining a run gets None)
    result.experiment.add_tag(DEMO_TAG, True)
    return result


def delete_demo_models(project: Project) -> list[str]:
    """Delete the models and experiments an earlier demo made (tagged ``lakebox_demo``)."""
    deleted = []
    for model in project.get_model_registry().get_models():
        if model.get_tags().get(DEMO_TAG):
            model.delete()
            deleted.append(f"model {model.name} v{model.version}")
    for run in project.get_experiments():
        if run.get_tags().get(DEMO_TAG):
            run.delete()
            deleted.append(f"experiment {run.name} run {run.run}")
    return deleted


def train_demo_models(
    project: Project,
    view: FeatureView,
    training_dataset_version: int,
    on_step: Callable[[str], None] | None = None,
    echo: bool | Callable[[str], None] = False,
) -> dict[str, Any]:
    """Search, train data-parallel, register both models and return what happened as plain data.

    ``on_step`` is called with a short description before each step; ``echo`` goes to ``lagom``
    (worker output, each line prefixed by its worker).
    """
    step = on_step or (lambda text: None)
    deleted = delete_demo_models(project)
    dataset: dict[str, Any] = {"feature_view": view, "training_dataset_version": training_dataset_version}

    step(f"Hyperparameter search: {SEARCH_TRIALS} trials of a gradient-boosting regressor on {WORKERS} workers")
    started = time.perf_counter()
    search = _tagged(gradient_boosting, experiment.HyperparameterOptConfig(
        name=SEARCH_NAME, searchspace=experiment.Searchspace(
            learning_rate=("DOUBLE", [0.03, 0.3], "log"), max_depth=("INTEGER", [2, 4])),
        optimizer="randomsearch", num_trials=SEARCH_TRIALS, workers=WORKERS, metric=METRIC, direction="max",
        seed=SEED, description="lakebox demo: scikit-learn gradient boosting of attendance", **dataset,
    ), project, echo)  # fmt: skip
    search_s = time.perf_counter() - started

    step(f"torch.distributed: a small MLP on {WORLD_SIZE} CPU processes")
    started = time.perf_counter()
    ddp = _tagged(torch_mlp, experiment.TorchDistributedConfig(
        DISTRIBUTED_NAME, {"lr": 0.02}, world_size=WORLD_SIZE, backend="auto", metric=METRIC, timeout_s=60,
        description="lakebox demo: a torch MLP of attendance, data-parallel", **dataset,
    ), project, echo)  # fmt: skip
    ddp_s = time.perf_counter() - started

    step(f"Registering the models as {MODEL_NAME} and reading the lineage of the best")
    mr = project.get_model_registry()
    registered = []
    for result, framework in ((search, "scikit-learn"), (ddp, "torch")):
        metrics = {k: v for k, v in result.metrics.items() if k in (METRIC, "mae")}
        model = mr.create_model(
            MODEL_NAME, metrics=metrics, training_dataset=(view, training_dataset_version),
            description=f"lakebox demo: {framework} model of attendance, from experiment {result.name} run {result.run}",
        )  # fmt: skip
        model.save(result.files["model"])
        model.add_tag(DEMO_TAG, True)
        model.add_tag("framework", framework)
        registered.append(
            {**model.to_dict(), "framework": framework, "experiment": {"name": result.name, "run": result.run}}
        )
    best = mr.get_best_model(MODEL_NAME, METRIC, direction="max")
    graph = project.lineage(best, direction="up")
    tree = graph.to_dict()
    for asset_id, asset in graph.nodes.items():
        tree["nodes"][asset_id].update(parent=asset.parent, label=asset.label)
    return {
        "box": str(project.path),
        "deleted": deleted,
        "search": {**search.to_dict(), "seconds": round(search_s, 3)},
        "distributed": {**ddp.to_dict(), "world_size": WORLD_SIZE, "seconds": round(ddp_s, 3)},
        "models": registered,
        "best_model": {"name": best.name, "version": best.version, "metric": METRIC, "value": best.metrics[METRIC]},
        "lineage": {"direction": "up", **tree},
        "feature_groups": sorted({n["name"] for n in tree["nodes"].values() if n["kind"] == "feature_group"}),
    }
