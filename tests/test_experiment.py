"""experiment.lagom with real worker processes (spawn): single runs, grid and random search,
early stopping, failing and crashing trials, ablation over features and model components,
and what every run records in the box (DESIGN §6)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import lagom_fns as fns
import pytest
from lagom_data import training_view

import lakebox
from lakebox import experiment
from lakebox.errors import LakeboxError, NotFoundError, ValidationError
from lakebox.experiment import (
    AblationConfig,
    Config,
    ExperimentError,
    HyperparameterOptConfig,
    SearchspaceError,
    SignatureError,
)

QUIET: dict[str, Any] = {"echo": False}


def _space(**params: Any) -> experiment.Searchspace:
    return experiment.Searchspace(**params)


# -- a single run -----------------------------------------------------------------------------
def test_single_run_records_everything(project: lakebox.Project, tmp_path: Path, capsys: Any) -> None:
    result = experiment.lagom(fns.with_files, Config("single", {"lr": 0.25, "out_dir": str(tmp_path / "out")}))
    assert result.status == "finished"
    assert result.metrics == {"accuracy": 0.75}
    assert result["accuracy"] == 0.75
    assert result.best_hp == {"lr": 0.25, "out_dir": str(tmp_path / "out")}
    # the output streamed back live, each line prefixed by its worker
    out = capsys.readouterr().out
    assert "[w0] training with lr=0.25" in out
    # recorded in the box
    (run,) = project.get_experiments("single")
    assert (run.name, run.run, run.kind, run.status) == ("single", 1, "single", "finished")
    assert run.metrics == {"accuracy": 0.75} and run.duration_s > 0
    assert "[w0] training with lr=0.25" in run.logs()
    assert run.logs(trial=0) == "training with lr=0.25\n"
    files = run.files
    assert files["weights"].read_text() == "lr=0.25\n"
    assert (files["model"] / "a.bin").read_bytes() == b"\x00\x01"
    assert str(files["weights"]).startswith(str(project.path / "artifacts" / "experiments" / "single" / "1"))
    (trial,) = run.trials
    assert trial["status"] == "finished" and trial["attempts"] == 1 and trial["worker"] == 0
    assert trial["outputs"] == {"note": "not a path", "cwd_box": str(project.path)}
    env = run.environment
    assert env["python"].count(".") == 2 and "pyarrow" in {k.lower() for k in env["packages"]}
    assert "git" in env
    assert result.trials[0]["outputs"] == {"note": "not a path", "cwd_box": str(project.path)}
    assert json.loads((run.path / "result.json").read_text())["metrics"] == {"accuracy": 0.75}
    # a second run of the same name is run 2; searchable and taggable like every asset
    experiment.lagom(fns.with_files, Config("single", {"lr": 0.5, "out_dir": str(tmp_path / "out")}), **QUIET)
    assert [r.run for r in project.get_experiments("single")] == [1, 2]
    hits = project.search("single", kind="experiment")
    assert {(h.name, h.version) for h in hits} == {("single", 1), ("single", 2)}
    run.add_tag("reviewed", True)
    assert run.get_tags() == {"reviewed": True}
    assert experiment.get_experiment("single").run == 2
    run.update_description("first try at the learning rate")
    assert [(h.name, h.version) for h in project.search("learning rate")] == [("single", 1)]
    # deleting a run removes its rows, asset, tags and files
    run.delete()
    assert [r.run for r in project.get_experiments("single")] == [2] and not run.path.exists()
    assert project.search("reviewed") == []
    with pytest.raises(NotFoundError, match=r"has no run 1; it has runs \[2\]"):
        experiment.get_experiment("single", 1)


def test_single_run_failure_is_recorded_and_raised(project: lakebox.Project) -> None:
    with pytest.raises(ExperimentError, match="kaboom at x=1") as info:
        experiment.lagom(fns.boom, Config("fails", {"x": 1}, retries=1), **QUIET)
    assert isinstance(info.value, LakeboxError)
    assert "RuntimeError: kaboom" in info.value.traceback
    result = info.value.result
    assert result.status == "failed" and result.trials[0]["attempts"] == 2
    (run,) = project.get_experiments("fails")
    assert run.status == "failed" and "kaboom" in (run.error or "")
    assert "--- attempt 2 ---" in run.logs(trial=0)
    assert run.logs().count("[w0] about to fail") == 2


def test_special_parameters_and_kwargs(project: lakebox.Project) -> None:
    result = experiment.lagom(fns.uses_all, Config("special", {"a": 1, "b": 2}), **QUIET)
    assert result.metrics == {"metric": 2.0}
    assert result.trials[0]["outputs"]["kwargs"] == ["a", "b"]
    assert result.trials[0]["steps"] == [[0, 1.0]]


# -- hyperparameter search ----------------------------------------------------------------------
def test_grid_search_finds_the_optimum(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        name="grid",
        searchspace=_space(x=("DISCRETE", [0.0, 0.3, 0.6]), y=("INTEGER", [1, 3]), act=("CATEGORICAL", ["relu", "tanh"])),
        optimizer="gridsearch", metric="metric", direction="max", workers=2,
    )
    result = experiment.lagom(fns.quadratic, config, **QUIET)
    assert len(result.trials) == 3 * 3 * 2
    assert {tuple(sorted(t["hparams"].items())) for t in result.trials} == {
        (("act", a), ("x", x), ("y", y)) for x in (0.0, 0.3, 0.6) for y in (1, 2, 3) for a in ("relu", "tanh")
    }
    assert result.best_hp == {"x": 0.3, "y": 2, "act": "tanh"}
    assert result.best_val == pytest.approx(0.0)
    workers = {t["worker"] for t in result.trials}
    assert workers <= {0, 1}
    run = result.experiment
    assert run.kind == "hyperparameter_search" and run.metric == "metric" and run.best_val == pytest.approx(0.0)
    assert len(run.trials) == 18


def test_random_search_finds_the_best_sampled_point(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        searchspace=_space(x=("DOUBLE", [0.0, 1.0]), y=("INTEGER", [0, 4]), act=("CATEGORICAL", ["relu", "tanh"])),
        optimizer="randomsearch", num_trials=24, metric="metric", direction="max", seed=3, workers=2,
    )
    result = experiment.lagom(fns.quadratic, config, **QUIET)
    assert len(result.trials) == 24 and result.count("finished") == 24
    values = [t["value"] for t in result.trials]
    assert result.best_val == max(values)
    best = max(result.trials, key=lambda t: t["value"])
    assert result.best_hp == best["hparams"] and result.best_trial == best["trial"]
    assert result.best_hp["y"] == 2 and result.best_hp["act"] == "tanh" and abs(result.best_hp["x"] - 0.3) < 0.2
    for t in result.trials:
        assert 0.0 <= t["hparams"]["x"] <= 1.0 and t["hparams"]["y"] in range(5)
    # direction="min" picks the other end
    low = experiment.lagom(fns.quadratic, HyperparameterOptConfig(
        searchspace=_space(x=("DOUBLE", [0.0, 1.0])), optimizer="randomsearch", num_trials=6, metric="metric",
        direction="min", seed=1, workers=1, hparams={"y": 2, "act": "tanh"}), **QUIET)
    assert low.best_val == min(t["value"] for t in low.trials)
    assert all(t["hparams"]["y"] == 2 for t in low.trials)


def test_asha_stops_bad_trials_early(project: lakebox.Project) -> None:
    # the first trial is the best at every step; successive halving stops the worse ones at the first rung
    config = HyperparameterOptConfig(
        searchspace=_space(quality=("DISCRETE", [0.9, 0.1, 0.2, 0.05, 0.3, 0.15])),
        optimizer="gridsearch", early_stopping="asha", metric="metric", workers=1,
    )
    result = experiment.lagom(fns.learning_curve, config, **QUIET)
    by_quality = {t["hparams"]["quality"]: t for t in result.trials}
    assert by_quality[0.9]["status"] == "finished" and len(by_quality[0.9]["steps"]) == 9
    pruned = [t for t in result.trials if t["status"] == "pruned"]
    assert len(pruned) >= 3
    for t in pruned:
        assert len(t["steps"]) < 9  # cut short
        assert t["value"] == t["steps"][-1][1]  # the last reported value
    assert result.best_hp == {"quality": 0.9}
    assert "stopped early" in result.experiment.logs()


def test_asha_optimizer_samples_and_prunes(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(searchspace=_space(quality=("DOUBLE", [0.0, 1.0])), optimizer="asha",
                                     num_trials=8, metric="metric", workers=2, seed=5)
    result = experiment.lagom(fns.learning_curve, config, **QUIET)
    assert len(result.trials) == 8 and result.count("pruned") >= 1 and result.count("finished") >= 1
    finished = [t for t in result.trials if t["status"] == "finished"]
    assert result.best_val == max(t["value"] for t in finished)


def test_median_stopping(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        searchspace=_space(quality=("DISCRETE", [0.9, 0.8, 0.1, 0.05])),
        optimizer="gridsearch", early_stopping="median", early_stopping_min_trials=2, metric="metric", workers=1,
    )
    result = experiment.lagom(fns.learning_curve, config, **QUIET)
    status = {t["hparams"]["quality"]: t["status"] for t in result.trials}
    assert status == {0.9: "finished", 0.8: "finished", 0.1: "pruned", 0.05: "pruned"}
    # early_stopping="none" lets every trial run
    config.early_stopping = "none"
    result = experiment.lagom(fns.learning_curve, config, **QUIET)
    assert result.count("finished") == 4


def test_failing_and_crashing_trials_are_retried_then_recorded(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(
        name="flaky", searchspace=_space(x=("INTEGER", [0, 4])), optimizer="gridsearch", metric="metric", workers=2,
    )
    result = experiment.lagom(fns.fails_for_two, config, **QUIET)
    status = {t["hparams"]["x"]: t for t in result.trials}
    assert {x: t["status"] for x, t in status.items()} == {
        0: "finished", 1: "finished", 2: "failed", 3: "failed", 4: "finished"}
    assert status[2]["attempts"] == 2 and "x=2 is not allowed" in status[2]["error"]
    assert status[3]["attempts"] == 2 and "died (exit code 3)" in status[3]["error"]
    assert result.status == "finished" and result.best_hp == {"x": 4}
    log = result.experiment.logs()
    assert "trial 2 failed" in log and "retrying" in log


def test_every_trial_failing_fails_the_run(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(searchspace=_space(x=("INTEGER", [0, 1])), optimizer="gridsearch",
                                     metric="metric", workers=1, retries=0)
    with pytest.raises(ExperimentError, match="kaboom"):
        experiment.lagom(fns.boom, config, **QUIET)
    assert project.get_experiments("boom")[0].status == "failed"


def test_missing_metric_fails_the_trial_with_a_clear_message(project: lakebox.Project) -> None:
    config = HyperparameterOptConfig(searchspace=_space(x=("INTEGER", [0, 1])), optimizer="gridsearch",
                                     metric="accuracy", workers=1)
    with pytest.raises(ExperimentError, match="metric 'accuracy'"):
        experiment.lagom(fns.missing_metric, config, **QUIET)


def test_trial_timeout(project: lakebox.Project) -> None:
    config = Config("slow", {"seconds": 30.0}, timeout_s=1.0)
    with pytest.raises(ExperimentError, match="timed out"):
        experiment.lagom(fns.sleeper, config, **QUIET)


def test_interrupting_lagom_stops_the_workers_and_records_it(project: lakebox.Project) -> None:
    import multiprocessing

    def interrupt(line: str) -> None:
        if line.startswith("[w"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        experiment.lagom(fns.quadratic, Config("interrupted", {"x": 0.1}), echo=interrupt)
    assert multiprocessing.active_children() == []
    (run,) = project.get_experiments("interrupted")
    assert run.status == "interrupted" and run.duration_s is not None


# -- ablation -----------------------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_ablation_over_features_and_components(project: lakebox.Project, fs: Any) -> None:
    view = training_view(fs)
    config = AblationConfig(
        name="ablate", feature_view=view, training_dataset_version=1, components=["dropout", "head"],
        model_factory=fns.build_parts, metric="metric", workers=2, hparams={"scale": 1.0},
    )
    result = experiment.lagom(fns.ablation, config, **QUIET)
    by = {t["hparams"]["ablated"]: t for t in result.trials}
    assert set(by) == {None, "age", "noise", "dropout", "head"}
    # the view's key and event time are features too (as in hsfs); only age and noise are left out
    assert by[None]["outputs"]["columns"] == ["pid", "ts", "age", "noise"]
    assert by["age"]["outputs"]["columns"] == ["pid", "ts", "noise"]
    assert by["noise"]["outputs"]["columns"] == ["pid", "ts", "age"]
    assert by["dropout"]["outputs"]["components"] == ["encoder", "head"]
    assert by[None]["outputs"]["components"] == ["dropout", "encoder", "head"]
    ablation = result.ablation
    assert set(ablation) == {"baseline", "age", "noise", "dropout", "head"}
    assert ablation["baseline"] > 0.99 and ablation["age"] < 0.5  # age carries the signal
    assert ablation["noise"] > 0.99
    # the run's lineage: the training dataset it read
    (dataset,) = result.experiment.training_datasets()
    assert (dataset.kind, dataset.name, dataset.version) == ("training_dataset", "players_view", 1)
    graph = project.lineage(result.experiment)
    assert {a.name for a in graph.nodes.values() if a.kind == "feature_group"} == {"labels", "players"}


def test_ablation_errors(project: lakebox.Project, fs: Any) -> None:
    view = training_view(fs)
    with pytest.raises(NotFoundError, match="did you mean"):
        experiment.lagom(fns.ablation, AblationConfig(feature_view=view, features=["agee"]), **QUIET)
    with pytest.raises(ValidationError, match="model_factory"):
        AblationConfig(components=["head"])
    with pytest.raises(ValidationError, match="Nothing to ablate"):
        AblationConfig()
    with pytest.raises(NotFoundError, match="no training dataset v9"):
        experiment.lagom(fns.ablation, AblationConfig(feature_view=view, training_dataset_version=9), **QUIET)


# -- errors before anything runs ------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, match",
    [
        ({"lr": ("FLOAT", [0, 1])}, "unknown type"),
        ({"lr": ("DOUBLE", [1, 0])}, "lo < hi"),
        ({"lr": ("DOUBLE", [0, 1, 2])}, "two numbers"),
        ({"lr": ("DOUBLE", [0.0, 1.0], "log")}, "log scale needs lo > 0"),
        ({"n": ("INTEGER", [0.5, 3])}, "two integers"),
        ({"act": ("CATEGORICAL", [])}, "non-empty"),
        ({"act": ("CATEGORICAL", [["relu"]])}, "None, bool, int, float or str"),
        ({"act": ("CATEGORICAL", ["a", "a"])}, "repeat"),
        ({"lr": "DOUBLE"}, "give \\(TYPE, values\\)"),
        ({"hparams": ("DOUBLE", [0, 1])}, "lagom passes itself"),
    ],
)
def test_bad_searchspace(params: dict[str, Any], match: str) -> None:
    with pytest.raises(SearchspaceError, match=match):
        experiment.Searchspace(**params)


def test_config_errors() -> None:
    space = _space(x=("DOUBLE", [0.0, 1.0]))
    with pytest.raises(ValidationError, match="Unknown optimizer 'bayes'"):
        HyperparameterOptConfig(searchspace=space, optimizer="bayes", num_trials=2)
    with pytest.raises(ValidationError, match="needs num_trials"):
        HyperparameterOptConfig(searchspace=space, optimizer="randomsearch")
    with pytest.raises(ValidationError, match="direction"):
        HyperparameterOptConfig(searchspace=space, num_trials=2, direction="up")
    with pytest.raises(ValidationError, match="both searched and fixed"):
        HyperparameterOptConfig(searchspace=space, num_trials=2, hparams={"x": 1})
    with pytest.raises(SearchspaceError, match="grid has"):
        HyperparameterOptConfig(searchspace=_space(a=("INTEGER", [0, 200]), b=("INTEGER", [0, 200])), optimizer="gridsearch")
    with pytest.raises(ValidationError, match="world_size must be an integer >= 1"):
        experiment.TorchDistributedConfig(world_size=0)
    with pytest.raises(ValidationError, match="backend"):
        experiment.TorchDistributedConfig(world_size=2, backend="mpi")
    with pytest.raises(ValidationError, match="Experiment name"):
        Config("a/b")


def test_signature_mismatch_is_refused_before_starting(project: lakebox.Project) -> None:
    with pytest.raises(SignatureError, match=r"needs \['x'\]"):
        experiment.lagom(fns.quadratic, Config("sig", {"y": 1}), **QUIET)
    with pytest.raises(SignatureError, match=r"no parameter for the hyperparameters \['z'\]"):
        experiment.lagom(fns.quadratic, Config("sig", {"x": 1.0, "z": 1}), **QUIET)
    with pytest.raises(SignatureError, match="gives no dataset"):
        experiment.lagom(fns.ablation, Config("sig"), **QUIET)
    assert project.get_experiments() == []  # nothing was recorded
    if importlib.util.find_spec("cloudpickle") is None:  # with cloudpickle, lambdas travel fine
        with pytest.raises(SignatureError, match="cannot be sent to the worker processes"):
            experiment.lagom(lambda x: {"metric": x}, Config("sig", {"x": 1}), **QUIET)
        assert project.get_experiments() == []


def test_a_function_the_workers_cannot_import(project: lakebox.Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    ghost = types.ModuleType("lagom_ghost")
    exec("def train(x):\n    return {'metric': x}\n", ghost.__dict__)
    monkeypatch.setitem(sys.modules, "lagom_ghost", ghost)  # importable here, not in a fresh process
    with pytest.raises(ExperimentError, match="could not load the training function.*lagom_ghost"):
        experiment.lagom(ghost.train, Config("ghost", {"x": 1.0}), **QUIET)
    assert project.get_experiments("ghost")[0].status == "failed"


def test_lagom_needs_a_box(monkeypatch: pytest.MonkeyPatch) -> None:
    import lakebox.project

    monkeypatch.setattr(lakebox.project, "_current", None)
    with pytest.raises(ValidationError, match="lakebox.connect"):
        experiment.lagom(fns.quadratic, Config("x", {"x": 1.0}))


def test_report_outside_lagom_does_nothing() -> None:
    experiment.report(0.5, step=3)
    assert fns.learning_curve(0.5) == {"metric": 4.5, "steps_run": 9}
    assert experiment.shard([1, 2, 3]) == [1, 2, 3] and experiment.rank() == 0 and experiment.world_size() == 1
