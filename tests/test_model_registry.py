"""The model registry: versions, files in the box, best model, search, tags, and lineage from a
model back to the feature groups (also for a model created inside a lagom run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lagom_fns as fns
import numpy as np
import pandas as pd
import pytest
from lagom_data import training_view

import lakebox
from lakebox import experiment
from lakebox.errors import AlreadyExistsError, NotFoundError, ValidationError


@pytest.fixture
def mr(project: lakebox.Project) -> Any:
    return project.get_model_registry()


def test_versions_and_best_model(mr: Any) -> None:
    for accuracy, loss in ((0.81, 0.5), (0.93, 0.4), (0.88, 0.2)):
        mr.create_model("churn", metrics={"accuracy": accuracy, "loss": loss}, description="churn classifier")
    assert [m.version for m in mr.get_models("churn")] == [1, 2, 3]
    assert mr.get_model("churn").version == 3
    assert mr.get_model("churn", 2).metrics == {"accuracy": 0.93, "loss": 0.4}
    assert mr.get_best_model("churn", "accuracy", direction="max").version == 2
    assert mr.get_best_model("churn", "loss", direction="min").version == 3
    mr.create_model("churn", metrics={"accuracy": 0.93})  # a tie: the newest wins
    assert mr.get_best_model("churn", "accuracy").version == 4
    mr.create_model("other", metrics={"f1": np.float64(0.5)}, version=7)
    assert [m.version for m in mr.get_models()] == [1, 2, 3, 4, 7]
    assert mr.get_model("other").metrics == {"f1": 0.5}


def test_registry_errors(mr: Any) -> None:
    mr.create_model("churn", metrics={"accuracy": 0.8})
    with pytest.raises(NotFoundError, match=r"has no version 5; it has \[1\]"):
        mr.get_model("churn", 5)
    with pytest.raises(NotFoundError, match="did you mean"):
        mr.get_model("chrun")
    with pytest.raises(NotFoundError, match=r"metric 'f1'; its metrics are \['accuracy'\]"):
        mr.get_best_model("churn", "f1")
    with pytest.raises(ValidationError, match="direction"):
        mr.get_best_model("churn", "accuracy", direction="up")
    with pytest.raises(ValidationError, match="finite number"):
        mr.create_model("churn", metrics={"accuracy": "high"})
    with pytest.raises(ValidationError, match="finite number"):
        mr.create_model("churn", metrics={"accuracy": float("nan")})
    with pytest.raises(ValidationError, match="Model name"):
        mr.create_model("../escape")
    with pytest.raises(AlreadyExistsError):
        mr.create_model("churn", version=1)
    assert [m.version for m in mr.get_models("churn")] == [1]  # nothing written by the failed calls


def test_save_download_delete(mr: Any, project: lakebox.Project, tmp_path: Path) -> None:
    source = tmp_path / "model_dir"
    (source / "sub").mkdir(parents=True)
    (source / "weights.bin").write_bytes(b"\x01\x02")
    (source / "sub" / "config.json").write_text("{}")
    frame = pd.DataFrame({"age": [31.0, 40.0], "city": ["a", "b"]})
    model = mr.create_model("churn", metrics={"accuracy": 0.9}, input_example=frame)
    assert model.input_example == {"age": 31.0, "city": "a"}
    with pytest.raises(NotFoundError, match="no files"):
        model.download()
    model.save(source)
    single = tmp_path / "extra.txt"
    single.write_text("x")
    model.save(single)
    assert model.files == ["extra.txt", "sub/config.json", "weights.bin"]
    assert model.path == project.path / "artifacts" / "models" / "churn" / "1"
    local = Path(model.download(tmp_path / "downloaded"))
    assert (local / "weights.bin").read_bytes() == b"\x01\x02" and (local / "sub" / "config.json").read_text() == "{}"
    assert Path(model.download()).joinpath("extra.txt").read_text() == "x"
    with pytest.raises(NotFoundError, match="does not exist"):
        model.save(tmp_path / "missing")
    model.add_tag("stage", "production")
    assert mr.get_model("churn", 1).get_tags() == {"stage": "production"}
    model.delete()
    assert not model.path.exists()
    with pytest.raises(NotFoundError):
        mr.get_model("churn", 1)
    assert project.search("churn", kind="model") == []


def test_models_are_searchable(mr: Any, project: lakebox.Project) -> None:
    mr.create_model("mnist", metrics={"accuracy": 0.98, "recall": 0.9}, description="handwritten digits classifier")
    mr.create_model("churn", metrics={"auc": 0.7})
    hits = project.search("mnist")
    assert [(h.kind, h.name, h.version) for h in hits] == [("model", "mnist", 1)]
    assert [h.name for h in project.search("handwritten digits", kind="model")] == ["mnist"]
    assert [h.name for h in project.search("recall", kind="model")] == ["mnist"]
    mr.get_model("churn").add_tag("team", "growth")
    assert [h.name for h in project.search("growth")] == ["churn"]
    mr.get_model("churn").update_description("customer attrition model")
    assert [h.name for h in project.search("attrition")] == ["churn"]
    assert mr.get_model("churn").description == "customer attrition model"


def test_lineage_from_model_to_feature_groups(mr: Any, project: lakebox.Project, fs: Any) -> None:
    view = training_view(fs)
    model = mr.create_model("regressor", metrics={"r2": 0.99}, training_dataset=(view, 1))
    assert model.training_dataset == {"feature_view": "players_view", "feature_view_version": 1, "version": 1}
    graph = project.lineage(model, direction="up")
    kinds = {(a.kind, a.name) for a in graph.nodes.values()}
    assert {("training_dataset", "players_view"), ("feature_view", "players_view"),
            ("feature_group", "labels"), ("feature_group", "players")} <= kinds
    assert "trained_on" in graph.tree()
    with pytest.raises(NotFoundError, match="no training dataset v3"):
        mr.create_model("regressor", training_dataset=(view, 3))
    same = mr.create_model("regressor", feature_view=("players_view", 1), training_dataset_version=1)
    assert same.training_dataset == model.training_dataset


def test_model_created_inside_lagom_links_run_and_dataset(mr: Any, project: lakebox.Project, fs: Any) -> None:
    view = training_view(fs)
    config = experiment.Config("train_and_register", {"name": "inside"}, feature_view=view, training_dataset_version=1)
    result = experiment.lagom(fns.register_model, config, echo=False)
    model = mr.get_model("inside")
    assert model.version == result.trials[0]["metrics"]["model_version"] == 1
    assert model.files == ["inside.txt"]
    assert model.training_dataset == {"feature_view": "players_view", "feature_view_version": 1, "version": 1}
    assert model.experiment is not None and model.experiment.name == "train_and_register"
    assert [m.name for m in result.experiment.models()] == ["inside"]
    assert result.to_dict()["models"][0]["name"] == "inside"
    graph = project.lineage(model, direction="up")
    relations = {(graph.nodes[s].kind, graph.nodes[d].kind, r) for s, d, r, _ in graph.edges}
    assert ("experiment", "model", "produced") in relations
    assert ("training_dataset", "model", "trained_on") in relations
    assert ("training_dataset", "experiment", "input") in relations
    assert {a.name for a in graph.nodes.values() if a.kind == "feature_group"} == {"labels", "players"}
