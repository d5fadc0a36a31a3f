"""The browser's operational assets: external feature groups (marked, no history tab), jobs
with their executions, drift monitors with their runs and alerts — each read through the
public api (jobs: ``project.get_job_api()``, monitors: ``fs.create_drift_monitor``)."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

from test_tui import cells, make_box, press, run, settle, text_of, tree_labels  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Tree  # noqa: E402

from lakebox import sources  # noqa: E402
from lakebox.tui import BrowserApp  # noqa: E402
from lakebox.tui.model import Ref  # noqa: E402
from lakebox.tui.source import Source  # noqa: E402

PIPELINE = textwrap.dedent("""
    def main(n=1, fail=False):
        if fail:
            raise RuntimeError("the source was empty")
        print("rows", n)
""")


PREDICTOR = textwrap.dedent("""
    class Predict:
        def __init__(self, model_dir):
            pass

        def predict(self, features):
            return [0.0] * len(features)
""")


@pytest.mark.slow  # runs a job twice (two processes), deploys a model, runs a monitor
def test_external_groups_jobs_and_monitors_in_the_tree(tmp_path: Path) -> None:
    project = make_box(tmp_path / "ops.lakebox", full=True, n_teams=4, n_players=20, n_games=40)
    try:
        _build(project, tmp_path)
        source = Source(lambda: project)
        catalog = source.catalog()
        assert catalog.errors == []
        orders = next(r for r in catalog.groups if r.name == "orders")
        assert orders.external and orders.short == "orders v1 · external"
        assert not next(r for r in catalog.groups if r.name == "players").external
        assert catalog.deployments == [Ref("deployment", "attendance")]
        assert catalog.jobs == [Ref("job", "daily")]
        assert catalog.monitors == [Ref("monitor", "games_drift", 1)]
        alerts = len(project.get_feature_store().get_drift_monitor("games_drift").alerts())
        assert catalog.monitors[0].short == "games_drift v1" + (f" · ⚠ {alerts} alert{'s' * (alerts != 1)}" if alerts else "")
        app = BrowserApp(project=project)

        async def scenario(pilot: Pilot[Any]) -> None:
            labels = tree_labels(app.query_one("#assets", Tree))
            assert "orders v1 · external" in labels and "Jobs (1)" in labels and "Drift monitors (1)" in labels
            assert "Deployments (1)" in labels
            # an external group: its source, its rows, no History or Stats tab
            app.jump_to(Ref("feature_group", "orders", 1))  # as search and lineage name it
            await settle(pilot)
            assert app.current is not None and app.current.external
            assert app.detail.tab_ids == ("overview", "data", "checks", "lineage")
            assert "sqlite" in text_of(app, "#overview-info") and "no time travel" in text_of(app, "#overview-info")
            assert "external feature group" in str(app.query_one("#asset-title").render())
            await press(pilot, "2")
            assert [r[0] for r in cells(app, "#preview")] == ["1", "2", "3"]
            # a job: its schedule and parameters, then its executions, newest first
            app.jump_to(Ref("job", "daily"))
            await settle(pilot)
            info = text_of(app, "#overview-info")
            assert "0 3 * * *" in info and "executions  2" in info
            assert cells(app, "#schema")[0][1:] == ["n", "1"]
            await press(pilot, "2")
            assert app.detail.active == "executions"
            rows = cells(app, "#executions-table")
            assert [(r[0], r[1], r[2]) for r in rows] == [("2", "failed", "manual"), ("1", "succeeded", "manual")]
            assert "the source was empty" in rows[0][6]
            assert "2 execution(s) · 1 failed" in text_of(app, "#executions-info")
            await press(pilot, "3")  # its lineage (none recorded) opens without an error
            assert app.detail.active == "lineage"
            # a drift monitor: what it watches, its runs
            app.jump_to(Ref("monitor", "games_drift", 1))
            await settle(pilot)
            assert app.detail.active == "lineage"  # kept from the job
            await press(pilot, "1")
            info = text_of(app, "#overview-info")
            assert "feature group games v1" in info and "attendance v1 · td 1" in info
            assert len(cells(app, "#schema")) == 1
            # a deployment: its model, traffic and features; its lineage reaches the model
            app.jump_to(Ref("deployment", "attendance"))
            await settle(pilot)
            info = text_of(app, "#overview-info")
            assert "attendance_model v2" in info and "v2 100%" in info and "attendance_predictions" in info
            await press(pilot, "2")
            assert "deployed_as model attendance_model v2" in " ".join(tree_labels(app.query_one("#lineage-tree", Tree)))

        run(app, scenario)
    finally:
        project.close()


def _build(project: Any, tmp_path: Path) -> None:
    fs = project.get_feature_store()
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE orders (order_id INTEGER, amount REAL)")
        db.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 9.5), (2, 20.0), (3, 4.25)])
    db.close()
    fs.create_external_feature_group("orders", version=1, source=sources.sqlite(str(shop), table="orders"),
                                     primary_key=["order_id"], description="Orders, read from the shop.")
    script = tmp_path / "daily.py"
    script.write_text(PIPELINE)
    job = project.get_job_api().create_job("daily", str(script), params={"n": 1}, schedule="0 3 * * *")
    assert job.run().success
    assert not job.run(fail=True).success
    view = fs.get_feature_view("attendance", 1)
    monitor = fs.create_drift_monitor("games_drift", source=fs.get_feature_group("games", 1), reference=(view, 1))
    monitor.run()
    predictor = tmp_path / "predict.py"
    predictor.write_text(PREDICTOR)
    project.get_model_registry().get_model("attendance_model", 2).deploy(name="attendance", predictor=str(predictor))
