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
    numeric = [c for c in columns if c not in ("pid", "ts")]  # the key and event time are features too (hsfs)
    a = np.column_stack([x_train[numeric].to_numpy(dtype=float), np.ones(len(x_train))])
    coef, *_ = np.linalg.lstsq(a, y_train.to_numpy(dtype=float).ravel(), rcond=None)
    b = np.column_stack([x_test[numeric].to_numpy(dtype=float), np.ones(len(x_test))])
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


def killed_once() -> dict[str, Any]:
    """Rank 1 of the first attempt dies by SIGKILL (no traceback, no result); the restarted group succeeds."""
    import signal

    import torch
    import torch.distributed as dist

    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    print(f"rank {experiment.rank()} attempt {attempt}")
    if attempt == 0 and experiment.rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    tensor = torch.tensor([float(experiment.rank() + 1)])
    dist.all_reduce(tensor)
    return {"all_reduce": tensor.item(), "attempt": float(attempt)}


def environment_seen() -> dict[str, Any]:
    """What a rank or a trial worker sees of its placement (device variables, ranks)."""
    names = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "CUDA_VISIBLE_DEVICES", "LAKEBOX_DEVICE",
             "MASTER_ADDR", "GROUP_RANK")
    print("env " + " ".join(f"{n}={os.environ.get(n)}" for n in names))
    return {"metric": 1.0, "env": {n: os.environ.get(n) for n in names}, "device": str(experiment.device())}


def environment_and_sum() -> dict[str, Any]:
    """The 2-node test: every rank's environment, and the all_reduce of rank + 1."""
    import torch
    import torch.distributed as dist

    seen = environment_seen()
    tensor = torch.tensor([float(experiment.rank() + 1)])
    dist.all_reduce(tensor)
    print(f"sum={tensor.item()}")
    return {**seen, "sum": tensor.item()}


def meets_peer(x: int, marker_dir: str) -> dict[str, Any]:
    """Each lagom process's first trial waits until the other process has started one too, so
    that both take trials from the shared study (a condition, not a sleep)."""
    import time

    folder = Path(marker_dir)
    mine = folder / str(os.getppid())  # the parent of a trial worker is its lagom process
    if not mine.exists():  # only a process's first trial waits for the peer's first
        mine.touch()
        deadline = time.monotonic() + 60
        while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    return {"metric": float(x)}


def hangs_on_three(x: int) -> dict[str, Any]:
    """Trial x=3 hangs while $LAKEBOX_TEST_HANG is set (the process running it gets killed)."""
    import time

    while x == 3 and os.environ.get("LAKEBOX_TEST_HANG"):
        time.sleep(0.1)
    return {"metric": float(x)}


def environment_seen_x(x: int) -> dict[str, Any]:
    return {**environment_seen(), "metric": float(x)}


def logs_scalars(steps: int = 3, x: float = 1.0) -> dict[str, Any]:
    """Writes ``loss`` = x / (step + 1) to TensorBoard at each step (rank r adds r)."""
    for step in range(steps):
        experiment.log_scalar("loss", x / (step + 1) + experiment.rank(), step)
    writer = experiment.summary_writer()
    if writer is not None:
        writer.add_text("note", f"rank {experiment.rank()}")
    return {"metric": x}
