"""The demo's deployment step (issue 13), on a small demo box with a scikit-learn model
registered the way the demo's training section registers its models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lakebox.demo import build_demo_box, create_demo_view
from lakebox.demo_deploy import DEPLOYMENT, MONITOR, deploy_demo


def _register_model(project: Any, view: Any, td: int, tmp_path: Path) -> Any:
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    x, _, y, _ = view.get_training_data(td)
    numeric = [c for c in x.columns if x[c].dtype.kind in "if"]
    model = make_pipeline(ColumnTransformer([("numbers", "passthrough", numeric)]), LinearRegression())
    model.fit(x, y.iloc[:, 0])
    folder = tmp_path / "model"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    registered = project.get_model_registry().create_model("attendance_model", metrics={"r2": 0.5},
                                                           training_dataset=(view, td))  # fmt: skip
    registered.save(folder)
    registered.add_tag("framework", "scikit-learn")
    return registered


@pytest.mark.slow  # a demo box, a server, two monitor runs: ~20 s
def test_demo_deploys_predicts_logs_and_alerts(project: Any, tmp_path: Path) -> None:
    built = build_demo_box(project, days=2, n_teams=8, n_players=80, n_games=300)
    view = create_demo_view(built)
    td = view.create_training_dataset(test_size=0.2, seed=42)
    _register_model(project, view, td, tmp_path)
    data = deploy_demo(project, view, "attendance_model", "r2")
    assert data["deployment"]["name"] == DEPLOYMENT and data["equal"]
    assert data["in_process"]["status"] == "present" and data["over_http"] == data["in_process"]
    assert data["log"]["rows"] > 0 and data["log"]["group"] == f"{DEPLOYMENT}_predictions"
    assert not data["calm"]["alert"] and data["shifted"]["alert"]
    assert any(r["feature"] == "home_budget" and r["alert"] for r in data["shifted"]["results"])
    assert data["alerts"][0]["asset_name"] == MONITOR
    again = deploy_demo(project, view, "attendance_model", "r2")  # a rebuild replaces what the demo made
    assert set(again["deleted"]) == {f"deployment {DEPLOYMENT}", f"monitor {MONITOR}"}
    assert again["log"]["rows"] == data["log"]["rows"]
