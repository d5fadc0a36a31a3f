"""TensorBoard per run: ``experiment.log_scalar`` writes event files under the run's folder
(one folder per trial of a search, one per rank of a data-parallel run), and
``lakebox experiments tensorboard NAME`` prints the logdir line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lagom_fns as fns
import pytest
from click.testing import CliRunner

import lakebox
from lakebox import experiment
from lakebox.cli import cli
from lakebox.errors import ValidationError

# Found, not imported: every xdist worker collects this module (torch alone costs seconds).
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("tensorboard", "torch")), reason="needs tensorboard and torch"
)


def _scalars(folder: Path, tag: str = "loss") -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return [(e.step, round(e.value, 6)) for e in events.Scalars(tag)]


def test_log_scalar_outside_lagom_does_nothing() -> None:
    experiment.log_scalar("loss", 1.0, step=0)
    assert experiment.summary_writer() is None
    with pytest.raises(ValidationError, match="needs a number"):
        experiment.log_scalar("loss", "high")


def test_a_search_writes_one_tensorboard_run_per_trial(project: lakebox.Project) -> None:
    config = experiment.HyperparameterOptConfig(
        name="tb_search", searchspace=experiment.Searchspace(x=("DISCRETE", [1.0, 2.0])), optimizer="gridsearch",
        metric="metric", workers=1,
    )
    result = experiment.lagom(fns.logs_scalars, config, echo=False)
    folder = result.experiment.tensorboard_dir
    assert folder == result.experiment.path / "tensorboard"
    assert sorted(p.name for p in folder.iterdir()) == ["trial_0", "trial_1"]
    assert _scalars(folder / "trial_0") == [(0, 1.0), (1, 0.5), (2, 0.333333)]
    assert _scalars(folder / "trial_1") == [(0, 2.0), (1, 1.0), (2, 0.666667)]
    env = {"COLUMNS": "200", "LAKEBOX_HOME": None, "NO_COLOR": "1"}
    every = CliRunner(env=env).invoke(cli, ["--box", str(project.path), "experiments", "tensorboard", "tb_search"])
    assert every.exit_code == 0, every.output
    assert every.stdout.strip() == f"tensorboard --logdir {project.path / 'artifacts' / 'experiments' / 'tb_search'}"
    one = CliRunner(env=env).invoke(cli, ["--box", str(project.path), "experiments", "tensorboard", "tb_search",
                                          "--run", "1"])
    assert one.stdout.strip() == f"tensorboard --logdir {folder}"
    missing = CliRunner(env=env).invoke(cli, ["--box", str(project.path), "experiments", "tensorboard", "tb_serch"])
    assert missing.exit_code != 0 and "did you mean 'tb_search'?" in missing.stderr


def test_a_single_run_writes_into_its_own_folder(project: lakebox.Project) -> None:
    result = experiment.lagom(fns.logs_scalars, experiment.Config("tb_single", {"steps": 2, "x": 4.0}), echo=False)
    assert _scalars(result.experiment.tensorboard_dir) == [(0, 4.0), (1, 2.0)]


@pytest.mark.slow
def test_every_rank_of_a_data_parallel_run_has_its_subfolder(project: lakebox.Project) -> None:
    config = experiment.TorchDistributedConfig("tb_ddp", {"steps": 2}, world_size=2)
    result = experiment.lagom(fns.logs_scalars, config, echo=False)
    folder = result.experiment.tensorboard_dir
    assert sorted(p.name for p in folder.iterdir()) == ["rank_0", "rank_1"]
    assert _scalars(folder / "rank_0") == [(0, 1.0), (1, 0.5)]
    assert _scalars(folder / "rank_1") == [(0, 2.0), (1, 1.5)]  # rank 1 adds 1
