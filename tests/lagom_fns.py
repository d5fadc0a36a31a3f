"""Training functions for the experiment tests: module-level, so worker processes import them.

Kept tiny (no sleeps, no real training) so a trial costs milliseconds and the tests measure
lagom's behaviour, not the functions'.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lakebox import experiment


def quadratic(x: float, y: int = 2, act: str = "relu") -> dict[str, Any]:
    """Maximum 0 at x=0.3, y=2, act='tanh'."""
    print(f"x={x} y={y} act={act}")
    print("to stderr", file=sys.stderr)
    return {"metric": -((x - 0.3) ** 2) - (y - 2) ** 2 - (0.0 if act == "tanh" else 0.5)}


def with_files(lr: float, out_dir: str) -> dict[str, Any]:
    """Returns a file, a folder, a metric and a non-metric output."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.txt").write_text(f"lr={lr}\n")
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "a.bin").write_bytes(b"\x00\x01")
    print(f"training with lr={lr}")
    return {"accuracy": 0.5 + lr, "weights": str(folder / "weights.txt"), "model": str(folder / "model"),
            "note": "not a path", "cwd_box": os.environ.get("LAKEBOX_HOME")}


def boom(x: float) -> dict[str, Any]:
    print("about to fail")
    raise RuntimeError(f"kaboom at x={x}")


def fails_for_two(x: int) -> dict[str, Any]:
    if x == 2:
        raise ValueError("x=2 is not allowed")
    if x == 3:
        os._exit(3)  # a crash of the process itself
    return {"metric": float(x)}


def sleeper(seconds: float) -> dict[str, Any]:
    import time

    time.sleep(seconds)
    return {"metric": seconds}


def missing_metric(x: int) -> dict[str, Any]:
    return {"loss": float(x)}


def learning_curve(quality: float, reporter: Any = None) -> dict[str, Any]:
    """Reports ``quality * (step + 1)`` for 9 steps: a higher quality is better at every step."""
    value = 0.0
    for step in range(9):
        value = quality * (step + 1)
        experiment.report(value, step=step)
    return {"metric": value, "steps_run": 9}


def uses_all(hparams: dict[str, Any], reporter: Any, **kwargs: Any) -> dict[str, Any]:
    reporter.report(1.0)
    return {"metric": float(len(hparams)), "kwargs": sorted(kwargs)}


def ablation(dataset_factory: Any, model_factory: Any = None, scale: float = 1.0) -> dict[str, Any]:
    """Least squares on the training split; metric = R^2 on the test split."""
    import numpy as np

    x_train, x_test, y_train, y_test = dataset_factory()
    columns = list(x_train.columns)
    a = np.column_stack([x_train.to_numpy(dtype=float), np.ones(len(x_train))])
    coef, *_ = np.linalg.lstsq(a, y_train.to_numpy(dtype=float).ravel(), rcond=None)
    b = np.column_stack([x_test.to_numpy(dtype=float), np.ones(len(x_test))])
    predicted = b @ coef
    actual = y_test.to_numpy(dtype=float).ravel()
    r2 = 1.0 - float(((actual - predicted) ** 2).sum() / ((actual - actual.mean()) ** 2).sum())
    parts = model_factory() if model_factory is not None else {}
    return {"metric": r2 * scale, "columns": columns, "components": sorted(parts)}


def build_parts(omit: str | None = None, scale: float = 1.0) -> dict[str, float]:
    """A 'model' of named components; the ablation leaves one out."""
    parts = {"encoder": 1.0, "dropout": 0.5, "head": 2.0}
    parts.pop(omit, None) if omit else None
    return parts


def register_model(dataset_factory: Any, name: str) -> dict[str, Any]:
    """Reads the training dataset and registers a model from inside the run."""
    import lakebox

    x_train, _, _, _ = dataset_factory()
    project = lakebox.connect()  # $LAKEBOX_HOME is the run's box
    mr = project.get_model_registry()
    model = mr.create_model(name, metrics={"rows": float(len(x_train))}, description="made inside lagom")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.txt"
        path.write_text("weights")
        model.save(path)
    return {"metric": float(len(x_train)), "model_version": model.version}


def distributed_step(lr: float = 0.1) -> dict[str, Any]:
    """all_reduce, then one DDP step on a sharded dataset; returns values every rank must agree on."""
    import torch
    import torch.distributed as dist

    rank, size = experiment.rank(), experiment.world_size()
    tensor = torch.tensor([float(rank + 1)])
    dist.all_reduce(tensor)
    torch.manual_seed(0)
    model = experiment.prepare_model(torch.nn.Linear(3, 1))
    data = experiment.shard(torch.arange(24, dtype=torch.float32).reshape(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss = model(data).pow(2).mean()
    loss.backward()
    optimizer.step()
    checksum = float(sum(p.detach().sum() for p in model.parameters()))
    print(f"rank {rank}/{size}: all_reduce={tensor.item()} rows={len(data)} checksum={checksum:.6f}")
    return {"all_reduce": tensor.item(), "rank": float(rank), "checksum": checksum, "rows": float(len(data)),
            "threads": float(torch.get_num_threads()), "backend": dist.get_backend()}


def distributed_fails(lr: float = 0.1) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    if experiment.rank() == 1:
        raise RuntimeError("rank 1 gives up")
    tensor = torch.ones(1)
    dist.all_reduce(tensor)  # rank 0 waits here for rank 1, which never comes
    return {"metric": tensor.item()}
