"""Hyperparameter searches whose Optuna study lives in shared storage: two processes work on
one study without running a parameter set twice, a killed search resumes, and each trial
worker gets its own GPU (CUDA_VISIBLE_DEVICES), seen in its environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lagom_fns as fns
import pytest

import lakebox
from lakebox import experiment
from lakebox.errors import ValidationError
from lakebox.experiment import HyperparameterOptConfig, Searchspace

optuna = pytest.importorskip("optuna")
TESTS = str(Path(__file__).parent)

SEARCH = """
import sys
sys.path.insert(0, sys.argv[1])
import lakebox, lagom_fns
from lakebox import experiment
lakebox.connect(sys.argv[2])
config = experiment.HyperparameterOptConfig(
    name="shared", searchspace=experiment.Searchspace(x=("INTEGER", [1, 8])), optimizer="gridsearch",
    metric="metric", workers=1, study="shared_study", storage=sys.argv[3], hparams={"marker_dir": sys.argv[4]})
experiment.lagom(getattr(lagom_fns, sys.argv[5]), config, echo=False)
"""


def _study(storage: str, name: str) -> Any:
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.slow
def test_two_processes_share_one_study_without_duplicates(tmp_path: Path, project: lakebox.Project) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    markers = tmp_path / "markers"
    markers.mkdir()
    logs = [tmp_path / f"search_{i}.log" for i in range(2)]
    with contextlib.ExitStack() as stack:
        outputs = [stack.enter_context(log.open("w")) for log in logs]
        children = [
            subprocess.Popen([sys.executable, "-c", SEARCH, TESTS, str(project.path), storage, str(markers),
                              "meets_peer"], stdout=out, stderr=subprocess.STDOUT)
            for out in outputs
        ]
        try:
            codes = [child.wait(timeout=600) for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
    assert codes == [0, 0], "\n".join(log.read_text() for log in logs)
    runs = project.get_experiments("shared")
    assert len(runs) == 2 and all(r.status == "finished" for r in runs)
    taken = [t["hparams"]["x"] for r in runs for t in r.trials]
    assert sorted(taken) == list(range(1, 9))  # 8 grid points between them, none twice
    assert all(r.trials for r in runs)  # both processes took part
    study = _study(storage, "shared_study")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["x"] for t in complete) == list(range(1, 9))


def test_a_random_search_in_the_box_storage_counts_trials_once(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        name="boxed", searchspace=Searchspace(x=("DOUBLE", [0.0, 1.0])), num_trials=3, metric="metric", workers=1,
        study="boxed_study", hparams={"y": 2}, seed=1,
    )
    first = experiment.lagom(fns.quadratic, config, echo=False)
    assert len(first.trials) == 3
    assert (project.path / "optuna.db").exists()  # the default storage: the box's own SQLite file
    again = experiment.lagom(fns.quadratic, config, echo=False)  # the study is complete: nothing left to run
    assert again.trials == [] or len(again.trials) == 0
    study = _study(f"sqlite:///{project.path / 'optuna.db'}", "boxed_study")
    values = [t.params["x"] for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(values) == 3 and len(set(values)) == 3


@pytest.mark.slow
def test_a_killed_search_resumes_where_it_stopped(tmp_path: Path, project: lakebox.Project) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    code = SEARCH.replace('hparams={"marker_dir": sys.argv[4]}', "").replace("[1, 8]", "[1, 4]")
    env = dict(os.environ, LAKEBOX_TEST_HANG="1")
    child = subprocess.Popen([sys.executable, "-c", code, TESTS, str(project.path), storage, "-", "hangs_on_three"],
                             env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        running: list[Any] = []
        while time.monotonic() < deadline and not running:
            time.sleep(0.2)
            try:
                trials = _study(storage, "shared_study").trials
            except KeyError:  # the child has not created the study yet
                continue
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING and t.params.get("x") == 3]
        assert running, "the search never reached trial x=3"
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the search and its workers, like kill -9
        child.wait(timeout=30)
    config = HyperparameterOptConfig(
        name="shared", searchspace=Searchspace(x=("INTEGER", [1, 4])), optimizer="gridsearch", metric="metric",
        workers=1, study="shared_study", storage=storage,
    )
    result = experiment.lagom(fns.hangs_on_three, config, echo=False)
    resumed = sorted(t["hparams"]["x"] for t in result.trials)
    assert 3 in resumed  # the abandoned trial ran again
    study = _study(storage, "shared_study")
    complete = sorted(t.params["x"] for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert complete == [1, 2, 3, 4]
    abandoned = [t for t in study.trials if t.user_attrs.get("lakebox_abandoned")]
    assert [t.params["x"] for t in abandoned] == [3]


def test_study_arguments_are_checked() -> None:
    space = Searchspace(x=("DOUBLE", [0.0, 1.0]))
    with pytest.raises(ValidationError, match="database URL"):
        HyperparameterOptConfig(searchspace=space, num_trials=2, study="s", storage="studies.db")
    with pytest.raises(ValidationError, match="study must be a name"):
        HyperparameterOptConfig(searchspace=space, num_trials=2, study="a b")
    with pytest.raises(ValidationError, match="gpus must be"):
        HyperparameterOptConfig(searchspace=space, num_trials=2, gpus=-1)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_each_trial_worker_gets_its_own_gpu(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        name="gpus", searchspace=Searchspace(x=("INTEGER", [1, 4])), optimizer="gridsearch", metric="metric",
        gpus=["3", "5"],
    )
    result = experiment.lagom(fns.environment_seen_x, config, echo=False)
    assert len(result.trials) == 4
    seen = {t["worker"]: t["outputs"]["env"]["CUDA_VISIBLE_DEVICES"] for t in result.trials}
    assert seen == {0: "3", 1: "5"}  # two workers (one per GPU), each with its own GPU for all its trials
    assert {t["outputs"]["env"]["LAKEBOX_DEVICE"] for t in result.trials} == {"cuda:0"}


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_trial_workers_on_a_cpu_machine_see_no_gpu(project: lakebox.Project, monkeypatch: Any) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if Path("/proc/driver/nvidia/gpus").exists():
        pytest.skip("this machine has GPUs")
    config = HyperparameterOptConfig(
        name="cpus", searchspace=Searchspace(x=("INTEGER", [1, 2])), optimizer="gridsearch", metric="metric", workers=2,
    )
    result = experiment.lagom(fns.environment_seen_x, config, echo=False)
    assert {t["outputs"]["env"]["CUDA_VISIBLE_DEVICES"] for t in result.trials} == {None}
    assert {t["outputs"]["device"] for t in result.trials} == {"cpu"}
