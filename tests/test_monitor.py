"""Drift monitors (issue 13): silent on data drawn from the training distribution, alerting
on a shifted one, for a deployment's prediction log and for a feature group; results and
history stored; alerts are catalog events; the metrics themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deploy_world import DAY1, World, build, players_table

from lakebox.errors import AlreadyExistsError, NotFoundError, ValidationError
from lakebox.monitors import metrics
from lakebox.monitors.monitor import parse_window


@pytest.fixture
def world(project: Any, tmp_path: Path) -> World:
    return build(project, tmp_path)


def _predict_new_players(world: World, deployment: Any, start: int, shift: float, seed: int, n: int = 300) -> None:
    world.players.insert(players_table(n, seed=seed, shift=shift, start=start, when=DAY1 + timedelta(days=1)))
    deployment.predict([{"pid": p} for p in range(start, start + n)])
    deployment.flush_logs()


def test_deployment_monitor_is_silent_in_distribution_and_alerts_on_a_shift(world: World) -> None:
    deployment = world.models[0].deploy(name="scores")
    monitor = world.fs.create_drift_monitor("scores_drift", source=deployment, window="1d")
    assert monitor.features == deployment.features and monitor.reference == ("scores", 1, world.td_version)
    _predict_new_players(world, deployment, start=1000, shift=0.0, seed=2)
    calm = monitor.run()
    assert calm.rows == 300 and not calm.alert, calm.results
    assert {(r["feature"], r["metric"]) for r in calm.results} == {(f, m) for f in deployment.features for m in metrics.METRICS}
    assert calm.score("age", "psi") < 0.2 and calm.score("skill", "ks") < 0.2
    since = datetime.now(UTC)
    _predict_new_players(world, deployment, start=2000, shift=1.0, seed=3)  # one standard deviation up
    shifted = monitor.run(at=datetime.now(UTC) + timedelta(microseconds=1))
    assert shifted.rows >= 300  # the window also holds the calm rows: it reaches back a day
    window = monitor.window
    narrow = world.fs.create_drift_monitor("scores_drift_now", source="scores", window=datetime.now(UTC) - since)
    assert narrow.window < window
    alerting = narrow.run()
    assert alerting.rows == 300 and alerting.alert
    assert {a["feature"] for a in alerting.alerts} >= {"age", "skill"}
    assert "team_id" not in {a["feature"] for a in alerting.alerts}  # unshifted features stay quiet
    assert alerting.score("age", "mean_shift") > 0.5
    history = narrow.history()
    assert [r.run_id for r in history] == [alerting.run_id]
    assert [r.run_id for r in monitor.history()] == [shifted.run_id, calm.run_id]
    events = world.fs.get_alerts()
    assert events and events[0]["asset_name"] == "scores_drift_now" and "age" in events[0]["message"]
    assert narrow.alerts()[0]["details"]["run_id"] == alerting.run_id
    hits = world.project.search("scores_drift", kind="monitor")
    assert {h.name for h in hits} == {"scores_drift", "scores_drift_now"}


def test_feature_group_monitor_by_event_time(world: World) -> None:
    monitor = world.fs.create_drift_monitor(
        "players_drift", source=world.players, reference=(world.view, world.td_version), window="1d",
        metrics=("psi", "mean_shift"), threshold={"psi": 0.25},
    )  # fmt: skip
    assert monitor.features == ["age", "skill", "team_id"] and monitor.thresholds == {"psi": 0.25, "mean_shift": 0.5}
    calm = monitor.run(at=DAY1 + timedelta(hours=12))  # the rows the model was trained on
    assert calm.rows == world.n and not calm.alert
    # age is compared after the training dataset's fitted standard_scaler, as the model saw it
    assert calm.score("age", "mean_shift") < 0.2
    week = DAY1 + timedelta(days=7)
    world.players.insert(players_table(300, seed=5, shift=1.5, start=5000, when=week))
    shifted = monitor.run(at=week + timedelta(hours=1))
    assert shifted.rows == 300 and shifted.alert
    assert {a["feature"] for a in shifted.alerts} == {"age", "skill"}
    empty = monitor.run(at=DAY1 + timedelta(days=3))
    assert empty.rows == 0 and not empty.alert and empty.score("age", "psi") is None


def test_refusals(world: World) -> None:
    fs = world.fs
    fs.create_drift_monitor("m", source=world.players, reference=(world.view, world.td_version))
    with pytest.raises(AlreadyExistsError):
        fs.create_drift_monitor("m", source=world.players, reference=(world.view, world.td_version))
    with pytest.raises(ValidationError, match="needs reference"):
        fs.create_drift_monitor("m2", source=world.players)
    with pytest.raises(ValidationError, match="metrics"):
        fs.create_drift_monitor("m2", source=world.players, reference=(world.view, 1), metrics=("chi",))
    with pytest.raises(ValidationError, match="not both"):
        fs.create_drift_monitor("m2", source=world.players, reference=(world.view, 1), features=["budget"])
    with pytest.raises(NotFoundError, match="no training dataset v9"):
        fs.create_drift_monitor("m2", source=world.players, reference=(world.view, 9))
    with pytest.raises(NotFoundError, match="No drift monitor named 'mm'"):
        fs.get_drift_monitor("mm")
    assert [m.name for m in fs.get_drift_monitors()] == ["m"]
    fs.get_drift_monitor("m").delete()
    assert fs.get_drift_monitors() == []


def test_metrics() -> None:
    rng = np.random.default_rng(0)
    ref, same, moved = rng.normal(0, 1, 5000), rng.normal(0, 1, 5000), rng.normal(1, 1, 5000)
    assert metrics.psi(ref, same) < 0.02 and metrics.psi(ref, moved) > 0.5
    assert metrics.ks(ref, same) < 0.05 and 0.3 < metrics.ks(ref, moved) < 0.45
    assert metrics.mean_shift(ref, moved) == pytest.approx(1.0, abs=0.05)
    assert metrics.score("psi", ["a", "b"] * 50, ["a"] * 100) > 0.5  # categories
    assert metrics.score("ks", ["a"], ["b"]) is None
    assert metrics.score("psi", [1.0, 2.0], []) is None
    assert parse_window("1d") == 86400 and parse_window("12h") == 43200 and parse_window(timedelta(minutes=5)) == 300
    with pytest.raises(ValidationError):
        parse_window("soon")
