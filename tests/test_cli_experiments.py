"""``lakebox experiments`` and ``lakebox models``, run with click's CliRunner against a real box
where a tiny lagom run and a 4-trial random search were recorded and models registered; and
the demo's training section when torch or scikit-learn is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import lagom_fns as fns
import pytest
from cli_run import assert_one_line_error, run, run_json
from lagom_data import training_view

import lakebox
from lakebox import experiment

SEARCH = "quadratic_search"
SINGLE = "train_and_register"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A box with: a single run that registers model ``inside`` (read training dataset v1 of
    ``players_view``), a 4-trial random search on 2 workers, and model ``regressor`` v1 and v2
    registered from the caller with a training dataset and files."""
    path = tmp_path_factory.mktemp("experiments") / "box"
    files = tmp_path_factory.mktemp("weights")
    with lakebox.connect(path) as project:
        view = training_view(project.get_feature_store())
        config = experiment.Config(SINGLE, {"name": "inside"}, feature_view=view, training_dataset_version=1)
        experiment.lagom(fns.register_model, config, project, echo=False)
        search = experiment.lagom(fns.quadratic, experiment.HyperparameterOptConfig(
            name=SEARCH, searchspace=experiment.Searchspace(x=("DOUBLE", [0.0, 1.0]), y=("INTEGER", [1, 3])),
            optimizer="randomsearch", num_trials=4, workers=2, seed=3, metric="metric", direction="max",
        ), project, echo=False)  # fmt: skip
        mr = project.get_model_registry()
        for number, r2 in ((1, 0.5), (2, 0.75)):
            (files / f"v{number}").mkdir()
            (files / f"v{number}" / "weights.bin").write_bytes(bytes(range(number * 10)))
            (files / f"v{number}" / "config.json").write_text(json.dumps({"r2": r2}))
            model = mr.create_model("regressor", metrics={"r2": r2, "best_x": search.best_hp["x"]},
                                    training_dataset=(view, 1), description=f"regressor number {number}")  # fmt: skip
            model.save(files / f"v{number}")
    yield path


# -- experiments -------------------------------------------------------------------------------
def test_experiments_list(box: Path) -> None:
    text = run("--box", box, "experiments", "list").stdout
    assert "Experiments" in text and SEARCH in text and SINGLE in text
    assert "hyperparameter_search" in text and "metric (max)" in text and "finished" in text
    runs = run_json("--box", box, "experiments", "list")["experiments"]
    assert [(r["name"], r["run"], r["kind"], r["status"]) for r in runs] == [
        (SINGLE, 1, "single", "finished"), (SEARCH, 1, "hyperparameter_search", "finished")]  # fmt: skip
    search = runs[1]
    assert search["metric"] == "metric" and search["direction"] == "max" and search["best_val"] <= 0
    assert search["duration_s"] > 0 and search["started_at"].endswith("+00:00")
    only = run_json("--box", box, "experiments", "list", SEARCH)["experiments"]
    assert [r["name"] for r in only] == [SEARCH]
    missing = assert_one_line_error(run("--box", box, "experiments", "list", "quadratic_serch", code=1), "not_found")
    assert "did you mean" in missing and SEARCH in missing


def test_experiments_show_summary(box: Path) -> None:
    text = run("--box", box, "experiments", "show", SINGLE).stdout
    assert f"{SINGLE} run 1" in text and "single" in text and "lagom_fns.register_model" in text
    assert "read training datasets: players_view v1" in text
    assert "produced models: inside v1" in text
    data = run_json("--box", box, "experiments", "show", SINGLE)
    assert data["hparams"] == {"name": "inside"} and data["metrics"]["model_version"] == 1
    assert [(d["name"], d["version"]) for d in data["training_datasets"]] == [("players_view", 1)]
    assert data["models"] == [{"name": "inside", "version": 1}]
    assert data["environment"]["python"].count(".") == 2 and data["environment"]["packages"] > 10
    assert len(data["trials"]) == 1 and "log" not in data and "trial" not in data
    summary = run("--box", box, "experiments", "show", SEARCH).stdout
    assert "best hyperparameters: x=" in summary and "4 trials (4 finished): add --trials" in summary


def test_experiments_show_trials_sorted_by_the_metric(box: Path) -> None:
    data = run_json("--box", box, "experiments", "show", SEARCH, "--trials")
    values = [t["value"] for t in data["trials"]]
    assert len(values) == 4 and values == sorted(values, reverse=True)  # direction max: best first
    assert data["best_val"] == values[0] and data["sort"] == "metric"
    by_number = run_json("--box", box, "experiments", "show", SEARCH, "--trials", "--sort", "trial")["trials"]
    assert [t["trial"] for t in by_number] == [0, 1, 2, 3]
    by_time = run_json("--box", box, "experiments", "show", SEARCH, "--trials", "--sort", "duration")["trials"]
    durations = [t["duration_s"] for t in by_time]
    assert durations == sorted(durations, reverse=True)
    assert {t["worker"] for t in data["trials"]} <= {0, 1}

    text = run("--box", box, "experiments", "show", SEARCH, "--trials").stdout
    table = text[text.index("Trials of") :]
    assert "(by metric, best first; ★ best)" in " ".join(table.split())
    rows = [line for line in table.splitlines() if "finished" in line]
    assert len(rows) == 4 and "★" in rows[0]  # the best trial comes first and is starred
    assert f"{data['trials'][0]['trial']} ★" in rows[0]
    assert run("--box", box, "experiments", "show", SEARCH, "--sort", "name", code=2).exit_code == 2


def test_experiments_show_logs(box: Path) -> None:
    log = run_json("--box", box, "experiments", "show", SEARCH, "--log")["log"]
    assert log.count("to stderr") == 4  # every trial's stderr, prefixed by its worker
    assert "[w0] x=" in log or "[w1] x=" in log
    assert "[lagom]" in log
    text = run("--box", box, "experiments", "show", SEARCH, "--trial", "2").stdout
    assert "Trial 2" in text and "output of trial 2" in text and "to stderr" in text
    trial = run_json("--box", box, "experiments", "show", SEARCH, "--trial", "2")["trial"]
    assert trial["trial"] == 2 and trial["status"] == "finished"
    assert trial["log"].startswith(f"x={trial['hparams']['x']} y={trial['hparams']['y']}")
    error = assert_one_line_error(run("--box", box, "experiments", "show", SEARCH, "--trial", "9", code=1), "not_found")
    assert "has no trial 9; its trials are [0, 1, 2, 3]" in error


def test_experiments_show_errors(box: Path) -> None:
    error = assert_one_line_error(run("--box", box, "experiments", "show", SEARCH, "--run", "2", code=1), "not_found")
    assert "has no run 2; it has runs [1]" in error
    assert_one_line_error(run("--box", box, "experiments", "show", "nope", code=1), "not_found")
    data = run_json("--box", box, "experiments", "show", "nope", code=1)
    assert data["error"] == "not_found" and "nope" in data["message"]


# -- models --------------------------------------------------------------------------------------
def test_models_list(box: Path) -> None:
    text = run("--box", box, "models", "list").stdout
    assert "regressor" in text and "inside" in text and "r2=0.75" in text
    assert "players_view v1, training dataset v1" in text
    models = run_json("--box", box, "models", "list")["models"]
    assert [(m["name"], m["version"]) for m in models] == [("inside", 1), ("regressor", 1), ("regressor", 2)]
    assert models[2]["metrics"]["r2"] == 0.75 and models[2]["created_at"]
    assert models[2]["training_dataset"] == {"feature_view": "players_view", "feature_view_version": 1, "version": 1}
    versions = run_json("--box", box, "models", "list", "regressor")["models"]
    assert [m["version"] for m in versions] == [1, 2]
    error = assert_one_line_error(run("--box", box, "models", "list", "regresor", code=1), "not_found")
    assert "did you mean" in error


def test_models_show_with_files_and_lineage_to_the_feature_groups(box: Path) -> None:
    text = run("--box", box, "models", "show", "regressor").stdout
    assert "regressor v2" in text and "regressor number 2" in text and "r2=0.75" in text
    assert "weights.bin" in text and "config.json" in text
    lineage = text[text.index("Lineage") :]
    assert "model regressor v2" in lineage and "↑ trained_on: training dataset players_view v1" in lineage
    assert "feature group labels v1" in lineage and "feature group players v1" in lineage
    data = run_json("--box", box, "models", "show", "regressor", "--version", "1")
    assert (data["name"], data["version"]) == ("regressor", 1)
    assert {f["name"]: f["bytes"] for f in data["files"]} == {"config.json": 11, "weights.bin": 10}
    nodes = data["lineage"]["nodes"].values()
    assert {n["name"] for n in nodes if n["kind"] == "feature_group"} == {"labels", "players"}
    assert data["experiment"] is None
    inside = run("--box", box, "models", "show", "inside").stdout
    assert f"made in experiment: {SINGLE} run 1" in inside
    assert "↑ produced: experiment train_and_register v1" in inside
    error = assert_one_line_error(
        run("--box", box, "models", "show", "regressor", "--version", "5", code=1), "not_found"
    )
    assert "has no version 5; it has [1, 2]" in error


def test_models_download(box: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    text = run("--box", box, "models", "download", "regressor", dest, "--version", "1").stdout
    assert "Downloaded regressor v1 (2 file(s), 21 bytes)" in text
    assert (dest / "weights.bin").read_bytes() == bytes(range(10))
    again = assert_one_line_error(
        run("--box", box, "models", "download", "regressor", dest, code=1), "validation_error"
    )
    assert "--overwrite" in again
    data = run_json("--box", box, "models", "download", "regressor", dest, "--overwrite")
    assert data["version"] == 2 and sorted(data["files"]) == ["config.json", "weights.bin"]
    assert (dest / "weights.bin").read_bytes() == bytes(range(20))
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_one_line_error(run("--box", box, "models", "download", "regressor", afile, code=1), "validation_error")
    assert_one_line_error(run("--box", box, "models", "download", "nope", tmp_path / "x", code=1), "not_found")
    assert not (tmp_path / "x").exists()


# -- every command documents itself; an empty box -------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [["experiments"], ["experiments", "list"], ["experiments", "show"], ["models"], ["models", "list"],
     ["models", "show"], ["models", "download"]],
)  # fmt: skip
def test_help(command: list[str]) -> None:
    text = run(*command, "--help").stdout
    assert text.startswith("Usage: ") and len(text.splitlines()) > 4
    top = run("--help").stdout
    assert "experiments" in top and "models" in top


def test_an_empty_box(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    run("init", path)
    assert "No experiments yet" in run("--box", path, "experiments", "list").stdout
    assert "No models yet" in run("--box", path, "models", "list").stdout
    assert run_json("--box", path, "experiments", "list") == {"experiments": []}
    assert run_json("--box", path, "models", "list") == {"models": []}
    assert_one_line_error(run("--box", tmp_path / "typo", "models", "list", code=1), "storage_error")


# -- the demo's training section -------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_the_demo_goes_on_without_torch_or_scikit_learn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lakebox.demo_training

    monkeypatch.setattr(lakebox.demo_training, "missing_requirements", lambda: ["torch", "scikit-learn"])
    path = tmp_path / "demo.lakebox"
    out = run("demo", "--box", path).stdout
    note = next(line for line in out.splitlines() if "Skipped the training section" in line)
    assert "torch and scikit-learn" in note and "`bash scripts/install.sh train` enables it" in note
    assert "Experiments: one training function" not in out and "Try next" in out
    data = run_json("demo", "--box", path, "--fresh", "--no-training")
    assert data["training"] == {"skipped": "--no-training", "deleted": []}
    assert run_json("--box", path, "models", "list") == {"models": []}


# -- lakebox train ---------------------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_train_runs_a_function_data_parallel_and_records_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "box"
    lakebox.connect(path).close()
    target = f"{Path(fns.__file__)}:distributed_step"
    data = run_json("--box", path, "train", target, "--name", "cli_ddp", "--hparams", '{"lr": 0.1}',
                    "--nproc-per-node", "2")
    assert data["name"] == "cli_ddp" and data["status"] == "finished"
    assert [r["all_reduce"] for r in data["ranks"]] == [3.0, 3.0]
    (recorded,) = lakebox.connect(path).get_experiments("cli_ddp")
    assert recorded.kind == "distributed" and "[w1] rank 1/2: all_reduce=3.0" in recorded.logs()
    bad = run("--box", path, "train", target, "--hparams", "{lr}", code=1)
    assert "--hparams must be a JSON object" in bad.stderr
    joins = run("--box", path, "train", target, "--nnodes", "2", code=1)
    assert "needs --rdzv-endpoint" in joins.stderr
