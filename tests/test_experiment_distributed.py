"""TorchDistributedConfig on torch's own launcher (torch.distributed.run / torch elastic), with
real processes: gloo ranks on the CPU, all_reduce and a DistributedDataParallel step, averaged
metrics, a failing rank that fails the run fast, max_restarts recovering from a killed rank, a
2-node run on loopback (two launchers), and each rank's placement in its environment."""

from __future__ import annotations

import ast
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import lagom_fns as fns
import pytest

import lakebox
from lakebox import experiment
from lakebox.errors import NotFoundError, ValidationError
from lakebox.experiment import ExperimentError, TorchDistributedConfig

# Found, not imported: every xdist worker collects this module and the ranks import torch themselves.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
TESTS = str(Path(__file__).parent)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_two_gloo_ranks_all_reduce_and_ddp_step(project: lakebox.Project, capsys: Any) -> None:
    result = experiment.lagom(fns.distributed_step, TorchDistributedConfig("ddp", {"lr": 0.1}, world_size=2))
    ranks = result.ranks
    assert ranks is not None and len(ranks) == 2
    assert [r["all_reduce"] for r in ranks] == [3.0, 3.0]  # 1 + 2 on every rank
    assert [r["rows"] for r in ranks] == [4.0, 4.0]  # 8 rows sharded over 2 ranks
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"])  # DDP kept the replicas equal
    assert [r["threads"] for r in ranks] == [float(max(1, (os.cpu_count() or 1) // 2))] * 2
    # rank 0's dict is the result, numeric metrics averaged over the ranks
    assert result.metrics["rank"] == 0.5 and result.metrics["all_reduce"] == 3.0
    assert result.trials[0]["outputs"]["backend"] == "gloo"
    out = capsys.readouterr().out
    assert "[w0] rank 0/2: all_reduce=3.0" in out and "[w1] rank 1/2: all_reduce=3.0" in out
    run = result.experiment
    assert run.kind == "distributed" and run.status == "finished" and len(run.trials) == 2
    assert "[w1] rank 1/2" in run.logs() and run.logs(trial=1).startswith("rank 1/2")


@pytest.mark.slow
def test_a_failing_rank_fails_the_run_with_its_traceback(project: lakebox.Project) -> None:
    config = TorchDistributedConfig("ddp_fails", world_size=2, timeout_s=300)
    with pytest.raises(ExperimentError, match="rank 1 failed") as info:
        experiment.lagom(fns.distributed_fails, config, echo=False)
    # rank 0 was blocked in all_reduce: the launcher stopped it instead of waiting for the 300 s timeout
    assert info.value.result.duration_s < 150
    assert "RuntimeError: rank 1 gives up" in info.value.traceback
    trials = {t["trial"]: t for t in info.value.result.trials}
    assert "rank 1 gives up" in trials[1]["error"] and "stopped because rank 1 failed" in trials[0]["error"]


@pytest.mark.slow
def test_max_restarts_recovers_from_a_rank_killed_once(project: lakebox.Project) -> None:
    result = experiment.lagom(fns.killed_once, TorchDistributedConfig("restarts", world_size=2, max_restarts=1),
                              echo=False)
    assert [r["all_reduce"] for r in result.ranks] == [3.0, 3.0]
    assert [r["attempt"] for r in result.ranks] == [1.0, 1.0]  # the second attempt (restart count 1) finished
    assert [t["attempts"] for t in result.trials] == [2, 2]
    log = result.experiment.logs()
    # (rank 1's own "attempt 0" line may die with it: SIGKILL comes right after the print)
    assert "[w0] rank 0 attempt 0" in log and "[w1] rank 1 attempt 1" in log


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_a_killed_rank_without_restarts_fails_the_run(project: lakebox.Project) -> None:
    with pytest.raises(ExperimentError, match="rank 1 failed") as info:
        experiment.lagom(fns.killed_once, TorchDistributedConfig("no_restarts", world_size=2), echo=False)
    assert "killed by SIGKILL" in info.value.traceback


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_nccl_without_gpus_is_refused(project: lakebox.Project) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA devices")
    with pytest.raises(ExperimentError, match="backend='nccl' needs a CUDA device"):
        experiment.lagom(fns.distributed_step, TorchDistributedConfig("nccl", world_size=1, backend="nccl"), echo=False)


def test_config_checks_the_multi_node_arguments() -> None:
    with pytest.raises(ValidationError, match="needs rdzv_endpoint"):
        TorchDistributedConfig("x", nnodes=2)
    with pytest.raises(ValidationError, match="node_rank must be in 0..1"):
        TorchDistributedConfig("x", nnodes=2, node_rank=2, rdzv_endpoint="127.0.0.1:29400")
    with pytest.raises(ValidationError, match="needs node_rank: 0 on the machine that records"):
        TorchDistributedConfig("x", nnodes=2, rdzv_endpoint="127.0.0.1:29400")
    with pytest.raises(ValidationError, match="'host:port'"):
        TorchDistributedConfig("x", nnodes=2, node_rank=0, rdzv_endpoint="nowhere")
    with pytest.raises(ValidationError, match="disagrees"):
        TorchDistributedConfig("x", world_size=3, nproc_per_node=1, nnodes=2, node_rank=0, rdzv_endpoint="127.0.0.1:1")
    with pytest.raises(ValidationError, match="node_rank=1 needs nnodes > 1"):
        TorchDistributedConfig("x", node_rank=1)
    with pytest.raises(ValidationError, match="max_restarts must be an integer >= 0"):
        TorchDistributedConfig("x", max_restarts=-1)
    config = TorchDistributedConfig("x", world_size=4, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29400")
    assert config.joins and config.ranks_per_node(8) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


JOIN = """
import sys
sys.path.insert(0, sys.argv[1])
import lagom_fns
from lakebox import experiment
config = experiment.TorchDistributedConfig("two_nodes", nnodes=2, nproc_per_node=1, node_rank=1,
                                           rdzv_endpoint=sys.argv[2], timeout_s=240)
assert experiment.lagom(lagom_fns.environment_and_sum, config) is None
print("node 1 done")
"""


@pytest.mark.slow
def test_two_nodes_on_loopback_record_one_run_with_every_ranks_log(project: lakebox.Project) -> None:
    endpoint = f"127.0.0.1:{_free_port()}"
    # node 1: its own launcher, in its own process, with no box (only node 0 records)
    env = {k: v for k, v in os.environ.items() if k != "LAKEBOX_HOME"}
    joiner = subprocess.Popen([sys.executable, "-c", JOIN, TESTS, endpoint], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env)
    try:
        config = TorchDistributedConfig("two_nodes", nnodes=2, nproc_per_node=1, node_rank=0, rdzv_endpoint=endpoint,
                                        timeout_s=240)
        result = experiment.lagom(fns.environment_and_sum, config, echo=False)
        out, _ = joiner.communicate(timeout=240)
    finally:
        if joiner.poll() is None:
            joiner.kill()
            joiner.wait()
    assert joiner.returncode == 0, out
    assert "[w1] sum=3.0" in out and "node 1 done" in out
    assert [r["sum"] for r in result.ranks] == [3.0, 3.0]  # all_reduce of rank + 1 over both nodes
    envs = {t["trial"]: t["outputs"]["env"] for t in result.trials}
    assert envs[0]["RANK"] == "0" and envs[1]["RANK"] == "1" and envs[1]["WORLD_SIZE"] == "2"
    assert envs[0]["GROUP_RANK"] == "0" and envs[1]["GROUP_RANK"] == "1" and envs[1]["LOCAL_RANK"] == "0"
    (run,) = project.get_experiments("two_nodes")  # recorded once, by node 0
    log = run.logs()
    assert "[w0] sum=3.0" in log and "[w1] sum=3.0" in log  # node 1's rank output came with its result
    assert run.logs(trial=1).startswith("env RANK=1")


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_each_rank_sees_its_own_local_rank(project: lakebox.Project) -> None:
    result = experiment.lagom(fns.environment_seen, TorchDistributedConfig("placement", world_size=2), echo=False)
    envs = [t["outputs"]["env"] for t in result.trials]
    assert [(e["RANK"], e["LOCAL_RANK"], e["LOCAL_WORLD_SIZE"]) for e in envs] == [("0", "0", "2"), ("1", "1", "2")]
    assert [t["outputs"]["device"] for t in result.trials] == ["cpu", "cpu"]  # gloo: the CPU
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"}


def test_omit_submodule_replaces_it_with_identity() -> None:
    import torch

    from lakebox.experiment.ablation import omit_submodule

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5), torch.nn.Linear(2, 1))
    omit_submodule(model, "1")
    assert isinstance(model[1], torch.nn.Identity)
    nested = torch.nn.Module()
    nested.block = torch.nn.Sequential(torch.nn.ReLU())
    omit_submodule(nested, "block.0")
    assert isinstance(nested.block[0], torch.nn.Identity)
    with pytest.raises(NotFoundError, match="no component 'blok'"):
        omit_submodule(nested, "blok")
    with pytest.raises(ValidationError, match="not a torch.nn.Module"):
        omit_submodule({"a": 1}, "a")


LOOPBACK_STORE = """
import sys
from lakebox.experiment.launcher import keep_stores_on_loopback
keep_stores_on_loopback()
import torch.distributed as dist
from torch.distributed.elastic.rendezvous import c10d_rendezvous_backend
store = c10d_rendezvous_backend.TCPStore("127.0.0.1", 0, is_master=True, multi_tenant=True)
store.set("k", "v")
port = store.port
def listening(path):
    with open(path) as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [r[1] for r in rows if r[3] == "0A" and int(r[1].rsplit(":", 1)[1], 16) == port]
print(sorted(listening("/proc/net/tcp") + listening("/proc/net/tcp6")))
"""


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_the_launchers_stores_listen_on_loopback_only() -> None:
    """torch elastic's TCPStore listens on every interface; lakebox's launcher wrapper binds it on 127.0.0.1."""
    done = subprocess.run([sys.executable, "-c", LOOPBACK_STORE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    addresses = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert addresses and all(a.startswith("0100007F:") for a in addresses), addresses  # 127.0.0.1 only
