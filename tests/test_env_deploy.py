"""Deploying a model warns (``EnvironmentDriftWarning``, a ``LakeboxWarning``) when the serving
environment differs from the one recorded with the run that made the model, naming the
packages and both versions; a model served where it was trained deploys silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_world import build

from lakebox import experiment
from lakebox.catalog.experiments import ExperimentStore
from lakebox.errors import LakeboxWarning
from lakebox.ops.pyenv import EnvironmentDriftWarning, drift_warning


def train_and_register(folder: str) -> dict[str, Any]:
    """Fit on the world's training dataset and register the model from inside a lagom run."""
    import joblib
    from sklearn.linear_model import LinearRegression

    import lakebox

    project = lakebox.connect()  # $LAKEBOX_HOME is the run's box
    view = project.get_feature_store().get_feature_view("scores", 1)
    x_train, _, y_train, _ = view.get_training_data(1)
    estimator = LinearRegression().fit(x_train, y_train.iloc[:, 0])
    path = Path(folder) / "run_model"
    path.mkdir()
    joblib.dump(estimator, path / "model.joblib")
    model = project.get_model_registry().create_model("run_model", metrics={"r2": 1.0}, training_dataset=(view, 1))
    model.save(path)
    return {"r2": 1.0}


@pytest.mark.slow  # a lagom run in a worker process
def test_deploy_warns_when_the_runs_packages_differ(project: Any, tmp_path: Path) -> None:
    build(project, tmp_path, n=50)
    experiment.lagom(train_and_register, experiment.Config(name="fit", hparams={"folder": str(tmp_path)}),
                     project=project, echo=False)  # fmt: skip
    model = project.get_model_registry().get_model("run_model", 1)
    run = model.experiment
    assert run is not None and "scikit-learn" in run.environment["packages"]

    model.deploy(name="same_env")  # the environment the run recorded is this one: no warning

    recorded = dict(run.environment)
    installed = recorded["packages"]["scikit-learn"]
    recorded["packages"] = {**recorded["packages"], "scikit-learn": "0.20.0", "left-behind": "1.0"}
    ExperimentStore(project.catalog).set_environment(model.experiment_id, recorded)
    with pytest.warns(
        EnvironmentDriftWarning, match=r"scikit-learn 0\.20\.0 -> " + installed.replace(".", r"\.")
    ) as seen:
        deployment = model.deploy(name="other_env")
    assert deployment.name == "other_env"  # a warning, not a refusal
    found = seen[0].message
    assert isinstance(found, LakeboxWarning)
    assert found.packages == {"scikit-learn": ("0.20.0", installed), "left-behind": ("1.0", None)}
    assert "left-behind 1.0 -> not installed" in str(found) and "Model run_model v1" in str(found)


def test_drift_warning_names_only_the_runs_packages() -> None:
    current = {"python": "3.11.4", "packages": {"numpy": "2.0.0", "added-since": "1.0"}}
    assert drift_warning({"python": "3.11.4", "packages": {"numpy": "2.0.0"}}, "M", current) is None
    found = drift_warning({"python": "3.10.1", "packages": {"NumPy": "1.26.4"}}, "M", current)
    assert found is not None and found.packages == {"NumPy": ("1.26.4", "2.0.0")}
    assert "Python 3.10.1 -> 3.11.4" in str(found) and "added-since" not in str(found)
