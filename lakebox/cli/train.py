"""``lakebox train``: run a training function data-parallel on torch's launcher, on one node or
as one node of a multi-node run (the same command on every machine, each with its node rank)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import ValidationError


def load(reference: str, what: str) -> Any:
    """``path/to/script.py:name`` or ``package.module:name`` -> the object (a script is imported as a
    module of its folder, so the ranks torch's launcher starts can import it too)."""
    module_name, sep, attr = reference.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValidationError(f"{what} must be SCRIPT.py:NAME or MODULE:NAME, got {reference!r}.")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ValidationError(f"{what}: no script {path}.")
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValidationError(f"{what}: cannot import {module_name!r} ({e}).") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValidationError(f"{what}: {module_name} has no {attr!r}.") from None


@click.command("train", short_help="Data-parallel training on torch's launcher: one machine, or one node of several.")
@click.argument("target")
@click.option("--config", "config_ref", default=None,
              help="A TorchDistributedConfig to start from: SCRIPT.py:NAME or MODULE:NAME (options below override it).")
@click.option("--name", default=None, help="Experiment name (default: the config's, else the function's name).")
@click.option("--hparams", default=None, help='Hyperparameters as JSON, e.g. \'{"lr": 0.01}\'.')
@click.option("--nproc-per-node", type=click.IntRange(min=1), default=None,
              help="Ranks on this machine (default: one per GPU, else 2).")
@click.option("--nnodes", type=click.IntRange(min=1), default=None, help="Machines in the run (default 1).")
@click.option("--node-rank", type=click.IntRange(min=0), default=None,
              help="This machine's rank: 0 records the run in the box; the others join it.")
@click.option("--rdzv-endpoint", default=None, help="host:port of the rendezvous on node 0, reachable from every node.")
@click.option("--max-restarts", type=click.IntRange(min=0), default=None,
              help="Restart the whole group this many times after a rank dies.")
@click.option("--elastic", is_flag=True, default=None,
              help="torch's c10d rendezvous (node ranks in order of arrival) instead of the static one.")
@click.option("--backend", type=click.Choice(["auto", "gloo", "nccl"]), default=None,
              help="auto: NCCL with a GPU per rank, else gloo.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=None,
              help="Seconds for the rendezvous and each collective before a stuck rank fails the run.")
@output_option
@pass_state
def train(
    state: State, target: str, config_ref: str | None, name: str | None, hparams: str | None,
    nproc_per_node: int | None, nnodes: int | None, node_rank: int | None, rdzv_endpoint: str | None,
    max_restarts: int | None, elastic: bool | None, backend: str | None, timeout_s: float | None,
) -> None:
    """Run the training function TARGET (SCRIPT.py:FUNCTION or MODULE:FUNCTION) under
    TorchDistributedConfig on torch's launcher, and record the run in the box (on node 0).

    \b
    One machine, 2 CPU ranks:
      lakebox train train.py:train --hparams '{"lr": 0.01}' --nproc-per-node 2
    Two machines (run both; the box lives on node 0, 10.0.0.1):
      node 0: lakebox train train.py:train --nnodes 2 --node-rank 0 --rdzv-endpoint 10.0.0.1:29400
      node 1: lakebox train train.py:train --nnodes 2 --node-rank 1 --rdzv-endpoint 10.0.0.1:29400
    """
    from lakebox import experiment
    from lakebox.experiment.config import TorchDistributedConfig

    fn = load(target, "TARGET")
    options: dict[str, Any] = {}
    if config_ref is not None:
        base = load(config_ref, "--config")
        if not isinstance(base, TorchDistributedConfig):
            raise ValidationError(f"--config {config_ref} is a {type(base).__name__}, not a TorchDistributedConfig.")
        options = {k: v for k, v in vars(base).items() if not k.startswith("_")}
    given = {"name": name, "nproc_per_node": nproc_per_node, "nnodes": nnodes, "node_rank": node_rank,
             "rdzv_endpoint": rdzv_endpoint, "max_restarts": max_restarts, "elastic": elastic or None, "backend": backend,
             "timeout_s": timeout_s}
    options.update({k: v for k, v in given.items() if v is not None})
    if hparams is not None:
        try:
            options["hparams"] = json.loads(hparams)
        except json.JSONDecodeError as e:
            raise ValidationError(f"--hparams must be a JSON object, e.g. '{{\"lr\": 0.01}}': {e}.") from e
    config = TorchDistributedConfig(**options)
    project = None if config.joins and config.feature_view is None else state.open()
    result = experiment.lagom(fn, config, project=project, echo=state.text)
    if result is None:
        click.echo(f"node {config.node_rank}: its ranks finished; node 0 records the run.", err=not state.text)
        return
    summary = {"name": result.name, "run": result.run, "status": result.status, "metrics": result.metrics,
               "ranks": result.ranks, "duration_s": result.duration_s, "path": str(result.experiment.path)}
    if state.text:
        click.echo(f"{result.name} run {result.run} {result.status}: {result.metrics} ({result.experiment.path})")
    else:
        click.echo(json.dumps(summary, default=str))
