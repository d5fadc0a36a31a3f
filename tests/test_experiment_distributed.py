"""TorchDistributedConfig with real ranks: gloo on the CPU, rendezvous on loopback only,
all_reduce and a DistributedDataParallel step, averaged metrics, a failing rank reported fast;
and the model-component ablation that replaces a torch submodule."""

from __future__ import annotations

from typing import Any

import lagom_fns as fns
import pytest

import lakebox
from lakebox import experiment
from lakebox.errors import NotFoundError, ValidationError
from lakebox.experiment import ExperimentError, TorchDistributedConfig

torch = pytest.importorskip("torch")


def test_two_gloo_ranks_all_reduce_and_ddp_step(project: lakebox.Project, capsys: Any) -> None:
    result = experiment.lagom(fns.distributed_step, TorchDistributedConfig("ddp", {"lr": 0.1}, world_size=2))
    ranks = result.ranks
    assert ranks is not None and len(ranks) == 2
    assert [r["all_reduce"] for r in ranks] == [3.0, 3.0]  # 1 + 2 on every rank
    assert [r["rows"] for r in ranks] == [4.0, 4.0]  # 8 rows sharded over 2 ranks
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"])  # DDP kept the replicas equal
    assert [r["threads"] for r in ranks] == [float(max(1, (__import__("os").cpu_count() or 1) // 2))] * 2
    # rank 0's dict is the result, numeric metrics averaged over the ranks
    assert result.metrics["rank"] == 0.5 and result.metrics["all_reduce"] == 3.0
    assert result.trials[0]["outputs"]["backend"] == "gloo"
    out = capsys.readouterr().out
    assert "[w0] rank 0/2: all_reduce=3.0" in out and "[w1] rank 1/2: all_reduce=3.0" in out
    run = result.experiment
    assert run.kind == "distributed" and run.status == "finished" and len(run.trials) == 2


def test_a_failing_rank_fails_the_run_quickly(project: lakebox.Project) -> None:
    config = TorchDistributedConfig("ddp_fails", world_size=2, timeout_s=60)
    with pytest.raises(ExperimentError, match="rank 1 failed") as info:
        experiment.lagom(fns.distributed_fails, config, echo=False)
    # rank 0 was blocked in all_reduce: lagom stopped it instead of waiting for the 60 s timeout
    assert info.value.result.duration_s < 45
    trials = {t["trial"]: t for t in info.value.result.trials}
    assert "rank 1 gives up" in trials[1]["error"] and "stopped because rank 1 failed" in trials[0]["error"]


def test_nccl_without_gpus_is_refused(project: lakebox.Project) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA devices")
    with pytest.raises(ExperimentError, match="backend='nccl' needs a CUDA device"):
        experiment.lagom(fns.distributed_step, TorchDistributedConfig("nccl", world_size=1, backend="nccl"), echo=False)


def test_omit_submodule_replaces_it_with_identity() -> None:
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
