"""Model deployments in-process (issue 13): training/serving equality, statuses, passed
features, predictors (scikit-learn, TorchScript, predictor.py), errors naming the
deployment, catalog asset (search, tags, lineage), prediction logs and outcomes, traffic."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deploy_world import PREDICTOR, TS, World, build

import lakebox
from lakebox.deployments.predictors import PredictorError
from lakebox.deployments.traffic import Router, check_traffic
from lakebox.errors import AlreadyExistsError, NotFoundError, ValidationError

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def world(project: Any, tmp_path: Path) -> World:
    return build(project, tmp_path)


def _training_rows(world: World) -> pd.DataFrame:
    """Every training-dataset row (train and test split) with its player's key. The key is
    found by ``skill``, an untransformed feature drawn at random, so unique per player."""
    x_train, x_test, _, _ = world.view.get_training_data(world.td_version)
    rows = pd.concat([x_train, x_test], ignore_index=True)
    players = world.players.read()
    by_skill = dict(zip(players["skill"], players["pid"], strict=True))
    return rows.assign(pid=[by_skill[s] for s in rows["skill"]])


def test_prediction_equals_model_on_the_training_row_of_the_same_key(world: World) -> None:
    deployment = world.models[0].deploy(name="scores")
    rows = _training_rows(world)
    features = deployment.features
    assert features == [c for c in rows.columns if c != "pid"]  # the training order
    for _, row in rows.head(25).iterrows():
        expected = world.estimators[0].predict(pd.DataFrame([row[features]], columns=features).astype(rows[features].dtypes))[0]
        answer = deployment.predict({"pid": int(row["pid"])})
        assert answer["prediction"] == pytest.approx(expected, rel=1e-12, abs=1e-9)
        assert answer["model_version"] == 1 and answer["status"] == "present"
    batch = deployment.predict([{"pid": int(p)} for p in rows["pid"].head(10)])
    expected = world.estimators[0].predict(rows[features].head(10))
    np.testing.assert_allclose(batch["predictions"], expected, rtol=1e-12)
    assert batch["statuses"] == ["present"] * 10 and batch["model_versions"] == [1] * 10


def test_missing_keys_statuses_and_passed_features(world: World) -> None:
    deployment = world.models[0].deploy(name="scores")
    with pytest.raises(NotFoundError, match="Deployment 'scores'.*1 of 2 entries"):
        deployment.predict([{"pid": 1}, {"pid": 10_000}])
    with pytest.raises(PredictorError, match="Deployment 'scores' .*model version 1"):
        deployment.predict([{"pid": 1}, {"pid": 10_000}], allow_missing=True)  # LinearRegression refuses NaN
    with pytest.raises(ValidationError, match="lacks the serving key"):
        deployment.predict({"player": 1})
    # passed features override the looked-up (untransformed) values, then transform as for training
    base = deployment.predict({"pid": 1})["prediction"]
    passed = deployment.predict({"pid": 1}, passed_features={"skill": 0.0})["prediction"]
    coef = dict(zip(deployment.features, world.estimators[0].coef_, strict=True))
    skill = world.players.read().set_index("pid").loc[1, "skill"]
    assert passed == pytest.approx(base - coef["skill"] * skill)
    # a key missing but filled completely by passed features is still "missing" (nothing online)
    answer = deployment.predict([{"pid": 5}], passed_features=[{"age": 30.0}])
    assert answer["statuses"] == ["present"]


def test_deployment_is_a_catalog_asset(world: World, project: Any) -> None:
    deployment = world.models[0].deploy(name="scores", description="serves the score model")
    deployment.add_tag("owner", "ml-team")
    assert deployment.get_tags() == {"owner": "ml-team"}
    hits = project.search("scores", kind="deployment")
    assert [h.name for h in hits] == ["scores"] and hits[0].tags == {"owner": "ml-team"}
    graph = project.lineage(deployment, direction="up")
    assert "model score_model v1" in str(graph)
    serving = project.get_model_serving()
    assert [d.name for d in serving.get_deployments()] == ["scores"]
    assert serving.get_deployment("scores").to_dict()["log_group"] == "scores_predictions"
    with pytest.raises(AlreadyExistsError, match="scores"):
        world.models[1].deploy(name="scores")
    deployment.delete()
    with pytest.raises(NotFoundError, match="No deployment named 'scores'"):
        serving.get_deployment("scores")
    with pytest.raises(NotFoundError, match="was deleted"):
        deployment.predict({"pid": 1})
    assert project.search("scores", kind="deployment") == []


def test_default_name_and_refusals(world: World, project: Any, tmp_path: Path) -> None:
    deployment = world.models[0].deploy()
    assert deployment.name == "score_model"
    mr = project.get_model_registry()
    bare = mr.create_model("bare")
    with pytest.raises(ValidationError, match="no training dataset"):
        bare.deploy()
    empty = mr.create_model("empty", training_dataset=(world.view, world.td_version))
    with pytest.raises(NotFoundError, match="no file a predictor can load"):
        empty.deploy()
    assert [d.name for d in project.get_model_serving().get_deployments()] == ["score_model"]
    with pytest.raises(lakebox.errors.InvalidNameError):
        world.models[0].deploy(name="Bad Name")




def test_python_predictor_and_its_errors(world: World, project: Any, tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "scale.json").write_text('{"scale": 2.0}')
    mr = project.get_model_registry()
    model = mr.create_model("toy", training_dataset=(world.view, world.td_version)).save(folder)
    script = tmp_path / "predictor.py"
    script.write_text(PREDICTOR)
    deployment = model.deploy(name="toy", predictor=script)
    players = world.players.read().set_index("pid")
    ok = [pid for pid in range(world.n) if pid % 5 != 2][:3]  # team 2 has budget 35
    answer = deployment.predict([{"pid": p} for p in ok])
    assert answer["predictions"] == pytest.approx([players.loc[p, "skill"] * 2.0 for p in ok])
    with pytest.raises(PredictorError, match="Deployment 'toy'.*RuntimeError: budget too high"):
        deployment.predict({"pid": 2})
    with pytest.raises(ValidationError, match="predictor must be the path of a Python file"):
        model.deploy(name="toy2", predictor=tmp_path / "nothing.py")


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (the train extra)")
@pytest.mark.parametrize("kind", ["torchscript", pytest.param("torch.export", marks=pytest.mark.slow)])
def test_torch_predictors(world: World, project: Any, tmp_path: Path, kind: str) -> None:
    import warnings

    import torch

    est = world.estimators[0]
    linear = torch.nn.Linear(len(est.coef_), 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.asarray(est.coef_, dtype=np.float64).reshape(1, -1)))
        linear.bias.fill_(float(est.intercept_))

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = linear

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.double())

    folder = tmp_path / "ts"
    folder.mkdir()
    if kind == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates jit.script; files still load
            torch.jit.save(torch.jit.script(Net()), str(folder / "model.pt"))
    else:
        example = (torch.zeros(2, len(est.coef_), dtype=torch.float32),)
        batch = {"x": {0: torch.export.Dim("batch", min=1)}}  # any number of rows
        torch.export.save(torch.export.export(Net(), example, dynamic_shapes=batch), str(folder / "model.pt2"))
    model = project.get_model_registry().create_model("torchy", training_dataset=(world.view, world.td_version))
    model.save(folder)
    deployment = model.deploy(name="torchy")
    rows = _training_rows(world).head(5)
    answer = deployment.predict([{"pid": int(p)} for p in rows["pid"]])
    np.testing.assert_allclose(answer["predictions"], est.predict(rows[deployment.features]), rtol=1e-5)
    one = deployment.predict({"pid": int(rows["pid"].iloc[0])})["prediction"]
    assert one == pytest.approx(answer["predictions"][0], rel=1e-6)


def test_prediction_log_and_outcomes(world: World, project: Any) -> None:
    deployment = world.models[0].deploy(name="scores")
    answers = [deployment.predict({"pid": p}) for p in (1, 2, 3)]
    assert deployment.flush_logs()
    log = deployment.get_prediction_log().sort_values("request_time")
    assert list(log.columns) == ["pid", "request_time", "model_version", "status", *deployment.features, "prediction", "latency_ms"]
    assert log["pid"].tolist() == [1, 2, 3]
    assert log["prediction"].tolist() == pytest.approx([a["prediction"] for a in answers])
    assert set(log["status"]) == {"present"} and set(log["model_version"]) == {1}
    assert (log["latency_ms"] > 0).all()
    # the logged features are exactly what the model received (transformed): re-predicting them agrees
    again = world.estimators[0].predict(log[deployment.features])
    np.testing.assert_allclose(again, log["prediction"], rtol=1e-12)
    # outcomes arrive later, by key; get_features joins them with the predictions
    deployment.log_outcomes(pd.DataFrame({"pid": [1, 2], "outcome": [100.0, 120.0]}))
    fs = world.fs
    spine = pd.DataFrame({"pid": [1, 2, 3], "ts": pd.Timestamp.now(tz="UTC")})
    joined = fs.get_features(["scores_predictions.prediction", "scores_outcomes.outcome"], entity_df=spine)
    joined = joined.sort_values("pid")
    assert joined["prediction"].tolist() == pytest.approx([a["prediction"] for a in answers])
    assert joined["outcome"].tolist()[:2] == [100.0, 120.0] and pd.isna(joined["outcome"].tolist()[2])
    assert deployment.log_stats()["written"] == 3
    lineage = str(project.lineage(deployment, direction="down"))
    assert "scores_predictions" in lineage and "scores_outcomes" in lineage


def test_logging_off_and_unchanged_log_group_reused(world: World) -> None:
    quiet = world.models[0].deploy(name="quiet", log=False)
    quiet.predict({"pid": 1})
    assert quiet.log_group is None and quiet.log_stats() == {}
    with pytest.raises(NotFoundError, match="log=False"):
        quiet.get_prediction_log()
    first = world.models[0].deploy(name="scores")
    first.predict({"pid": 1})
    first.delete()  # the log stays
    second = world.models[1].deploy(name="scores")
    second.predict({"pid": 1})
    assert len(second.get_prediction_log()) == 2


def test_traffic_split_is_deterministic_and_close_to_the_shares() -> None:
    router = Router(1, check_traffic({1: 90, 2: 10}))
    versions = [router.route([key]) for key in range(10_000)]
    assert versions == [router.route([key]) for key in range(10_000)]  # the same key, the same version
    share = versions.count(2) / len(versions)
    assert 0.085 < share < 0.115
    three = Router(1, check_traffic({1: 50, 2: 30, 3: 20}))
    counts = np.bincount([three.route([f"user-{k}"]) for k in range(10_000)], minlength=4)[1:] / 10_000
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.2], atol=0.02)
    for bad in ({1: 90, 2: 20}, {}, {"x": 100}, {1: -5, 2: 105}):
        with pytest.raises(ValidationError):
            check_traffic(bad)


def test_set_traffic_records_versions_and_takes_effect_on_the_next_request(world: World, box_path: Path) -> None:
    deployment = world.models[0].deploy(name="scores")
    keys = [{"pid": p} for p in range(world.n)]
    before = deployment.predict(keys)
    assert set(before["model_versions"]) == {1}
    # another process's handle (here: another project of the box) changes the split
    with lakebox.connect(box_path) as other:
        other.get_model_serving().get_deployment("scores").set_traffic({1: 50, 2: 50})
    split = deployment.predict(keys)  # the next request sees it, no restart
    versions = split["model_versions"]
    assert set(versions) == {1, 2} and 60 < versions.count(2) < 140
    for v, p, b in zip(versions, split["predictions"], before["predictions"], strict=True):
        assert p == pytest.approx(b * (2.0 if v == 2 else 1.0), rel=1e-9)  # v2 predicts twice v1
    assert deployment.predict(keys)["model_versions"] == versions  # deterministic per key
    deployment.flush_logs()
    log = deployment.get_prediction_log()
    assert sorted(log["model_version"].tolist()) == sorted([1] * 200 + versions + versions)
    deployment.set_model_version(2)
    assert set(deployment.predict(keys)["model_versions"]) == {2}
    assert deployment.traffic == {2: 100}
    with pytest.raises(NotFoundError, match="no version"):
        deployment.set_traffic({1: 50, 7: 50})


def test_fractional_traffic_shares_are_kept(world: World, box_path: Path) -> None:
    deployment = world.models[0].deploy(name="scores")
    deployment.set_traffic({1: 33.3, 2: 66.7})
    with lakebox.connect(box_path) as other:  # read back from the catalog, not this handle
        assert other.get_model_serving().get_deployment("scores").traffic == {1: 33.3, 2: 66.7}


def test_log_group_schema_is_declared(world: World) -> None:
    deployment = world.models[0].deploy(name="scores")
    group = deployment.get_log_group()
    types = {f.name: f.type for f in group.features}
    assert types["request_time"] == "timestamp" and types["prediction"] == "double" and types["pid"] == "bigint"
    assert group.primary_key == ["pid"] and group.event_time == "request_time"
    table = pa.table({"pid": pa.array([1], pa.int64()), "outcome_time": pa.array([pd.Timestamp.now(tz="UTC")], TS),
                      "outcome": [1.0]})  # fmt: skip
    deployment.log_outcomes(table)
    assert world.fs.get_feature_group("scores_outcomes", 1).read()["outcome"].tolist() == [1.0]


def test_fast_lookup_agrees_with_the_general_path(world: World) -> None:
    """The compiled fast lookup (online/serving.py) returns what the general one does: values,
    status and per-group detail, for present, missing and joined-through-a-feature keys."""
    view = world.view
    view.init_serving(world.td_version)
    plan = view._serving[0]
    assert plan._fast is not None  # this view (int keys, plain values, a join through team_id) takes it
    entries = [{"pid": p} for p in (0, 1, 57, 199, 200, -5, 10**12)]
    store = world.project.engines.online
    fast = plan.lookup_many(entries)
    txn = store.begin_read()
    try:
        general = [plan.lookup(txn, store.handles(plan._names), e, 0) for e in entries]
    finally:
        txn.abort()
    assert fast == general
    assert [r[1] for r in fast] == ["present"] * 4 + ["missing"] * 3
