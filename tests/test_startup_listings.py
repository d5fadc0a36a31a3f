"""Fast start (issue 16), every metadata listing: ``fv list``, ``tag list``, ``monitors list``,
``deployments list``, ``models list``, ``experiments list``, ``jobs list``, ``search`` and
``lineage`` read the catalog only (no pyiceberg, pandas, pyarrow, sqlglot, DuckDB or LMDB, and
no rich under ``-o json``), and the catalog-only answers (``lakebox.listings``) equal what the
api objects themselves describe. Which modules a process imported is deterministic, so that
is what is checked; the time is measured by ``benchmarks/cli_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lagom_fns as fns
import pyarrow as pa
import pytest
from deploy_world import DAY1, TS, build

import lakebox
from lakebox import experiment
from lakebox.experiment import Config
from lakebox.listings import view_info
from lakebox.ondemand import on_demand

HEAVY = ("pyiceberg", "pandas", "pyarrow", "sqlglot", "duckdb", "lmdb", "sqlalchemy", "numpy", "polars", "rich",
         "lakebox.feature_store", "lakebox.feature_view", "lakebox.queries", "lakebox.deployments.serving",
         "lakebox.monitors.monitor")  # fmt: skip

LISTINGS = [
    ["fg", "list"], ["fv", "list"], ["tag", "list", "fg", "players"], ["tag", "list", "fv", "scores"],
    ["monitors", "list"], ["deployments", "list"], ["models", "list"], ["models", "list", "score_model"],
    ["experiments", "list"], ["jobs", "list"], ["search", "score"], ["lineage", "score_model"],
    ["fv", "show", "scores", "--version", "1"], ["td", "list", "scores", "--version", "1"],
]  # fmt: skip


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy_world's store (three groups, a view, a training dataset, two models) plus a
    deployment, a drift monitor that ran once, a job, a lagom run, tags, and views whose
    outputs exercise the planner's naming rule (select_all, prefixes, keys through a join)."""
    tmp = tmp_path_factory.mktemp("listings")
    path = tmp / "b.lakebox"
    with lakebox.connect(path) as project:
        world = build(project, tmp, n=40)
        deployment = world.models[0].deploy(name="scores")
        deployment.predict([{"pid": p} for p in range(5)])
        deployment.flush_logs()
        world.fs.create_drift_monitor("scores_drift", source=deployment, window="1d").run()
        world.fs.create_drift_monitor(
            "players_drift", source=world.players, reference=(world.view, world.td_version), window="2d"
        )
        project.get_job_api().create_job("nightly", "lakebox.demo_jobs:main", schedule="0 3 * * *")
        experiment.lagom(fns.quadratic, Config("single", {"x": 0.5}), project=project, echo=False)
        world.players.add_tag("owner", "ana")
        world.view.add_tag("reviewed", True)
        fs = world.fs
        labels, players, teams = (fs.get_feature_group(n) for n in ("labels", "players", "teams"))
        fs.create_feature_view("everything", query=labels.select_all().join(players).join(teams, on=["team_id"]),
                               labels=["target"])  # fmt: skip
        fs.create_feature_view(
            "prefixed",
            query=players.select(["pid", "ts", "age"])
            .join(players.select(["age", "skill"]), prefix="again_")
            .join(teams.select_all(), on=["team_id"], prefix="t_"),
        )
        # a nested join (teams onto players, inside the join onto labels); "everything" joins teams through players
        fs.create_feature_view(
            "nested",
            query=labels.select(["target"]).join(
                players.select(["age", "team_id"]).join(teams.select(["budget"]), on=["team_id"])
            ),
            labels=["target"],
        )
        fs.create_feature_view("scores", version=2, query=labels.select(["target"]).join(players.select(["age"])),
                               labels=["target"], description="v2")  # fmt: skip
        extra = fs.create_feature_group("later", primary_key=["pid"], event_time="ts")
        extra.insert(pa.table({"pid": pa.array([1], pa.int64()), "ts": pa.array([DAY1], TS),
                               "age": pa.array([3.0])}))  # fmt: skip
    return path


def test_every_listing_reads_the_catalog_only(box: Path) -> None:
    """One fresh interpreter runs every listing in turn and notes which heavy modules each
    one added (a listing that loads the engines shows up by name)."""
    code = (
        "import contextlib, io, json, sys\nfrom lakebox.cli import main\nreport = []\n"
        f"for args in {LISTINGS!r}:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        f"            main(['--box', {str(box)!r}, '-o', 'json', *args])\n"
        "        except SystemExit as e:\n"
        "            code = e.code\n"
        "        else:\n"
        "            code = 0\n"
        f"    report.append([args, code, [m for m in {HEAVY!r} if m in sys.modules], out.getvalue()])\n"
        "print(json.dumps(report))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=box.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for args, code, heavy, out in report:
        assert code == 0, (args, out)
        assert heavy == [], f"`lakebox {' '.join(args)}` imported {heavy}"
    outputs = {" ".join(args): json.loads(out) for args, _, _, out in report}
    assert [v["name"] for v in outputs["fv list"]["feature_views"]] == ["everything", "nested", "prefixed", "scores",
                                                                        "scores"]  # fmt: skip
    assert outputs["tag list fg players"]["tags"] == {"owner": "ana"}
    assert outputs["tag list fv scores"] == {"kind": "feature_view", "name": "scores", "version": 2, "tags": {}}
    assert [m["name"] for m in outputs["monitors list"]["monitors"]] == ["players_drift", "scores_drift"]
    assert [d["name"] for d in outputs["deployments list"]["deployments"]] == ["scores"]
    assert [m["version"] for m in outputs["models list score_model"]["models"]] == [1, 2]
    assert [r["name"] for r in outputs["experiments list"]["experiments"]] == ["single"]
    assert [j["name"] for j in outputs["jobs list"]["jobs"]] == ["nightly"]
    assert {h["name"] for h in outputs["search score"]["hits"]} >= {"score_model", "scores"}


def test_catalog_views_equal_the_feature_views(box: Path) -> None:
    with lakebox.connect(box) as project:
        listed = project.describe_feature_views()
        expected = [view_info(v) for v in project.get_feature_store().get_feature_views()]
    assert listed == expected
    by_name = {(v["name"], v["version"]): v for v in listed}
    assert [c["name"] for c in by_name[("prefixed", 1)]["columns"]] == [
        "pid", "ts", "age", "again_age", "again_skill", "t_budget"]  # fmt: skip
    assert [c["name"] for c in by_name[("nested", 1)]["columns"]] == ["target", "age", "team_id", "budget"]
    assert by_name[("scores", 1)]["training_datasets"] and by_name[("scores", 1)]["columns"][1]["transformation"] == (
        "standard_scaler")  # fmt: skip


@on_demand(returns="double")
def twice(value: float) -> float:
    return value * 2


def test_catalog_view_and_datasets_equal_the_feature_view(box: Path) -> None:
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        for view in fs.get_feature_views():
            assert project.describe_feature_view(view.name, view.version) == view_info(view)
            assert project.describe_training_datasets(view.name, view.version) == {
                "name": view.name, "version": view.version, "training_datasets": view.get_training_datasets()}  # fmt: skip
        assert project.describe_feature_view("scores")["version"] == 2
        assert len(project.describe_training_datasets("scores", 1)["training_datasets"]) == 1
        for name, version in (("score", None), ("scores", 3)):  # the feature store's errors, hints included
            with pytest.raises(lakebox.NotFoundError) as theirs:
                fs.get_feature_view(name, version)
            for describe in (project.describe_feature_view, project.describe_training_datasets):
                with pytest.raises(lakebox.NotFoundError) as ours:
                    describe(name, version)
                assert ours.value.message == theirs.value.message


def test_a_view_the_catalog_cannot_describe_is_described_by_the_view(tmp_path: Path) -> None:
    """On-demand features (their names come from stored functions) and a join the planner
    refuses: those views describe themselves, the others still come from the catalog."""
    with lakebox.connect(tmp_path / "b.lakebox") as project:
        fs = project.get_feature_store()
        group = fs.create_feature_group("g", primary_key=["k"])
        group.insert(pa.table({"k": pa.array([1, 2], pa.int64()), "value": pa.array([0.5, 1.5])}))
        plain = fs.create_feature_view("plain", query=group.select_all())
        special = fs.create_feature_view("special", query=group.select_all())
        special.attach_on_demand(twice)
        expected = [view_info(v) for v in fs.get_feature_views()]
        assert [v["features"] for v in expected] == [["k", "value"], ["k", "value", "twice"]]
        views = project.engines.views
        assert project._describe_view_row(views.get("special", 1)) is None  # type: ignore[arg-type]
        assert project._describe_view_row(views.get("plain", 1)) == view_info(plain)  # type: ignore[arg-type]
        assert project.describe_feature_views() == expected


def test_catalog_deployments_and_monitors_equal_their_objects(box: Path) -> None:
    with lakebox.connect(box) as project:
        deployments = [d.to_dict() for d in project.get_model_serving().get_deployments()]
        monitors = []
        for m in project.get_feature_store().get_drift_monitors():
            last = m.history(limit=1)
            monitors.append({**m.to_dict(), "last_run": last[0].to_dict() if last else None})
        assert project.describe_deployments() == deployments
        assert project.describe_monitors() == monitors
    assert [m["last_run"] is not None for m in monitors] == [False, True]


def test_catalog_tags_equal_get_tags_and_errors_equal_the_feature_store(box: Path) -> None:
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        players, view = fs.get_feature_group("players"), fs.get_feature_view("scores", 1)
        assert project.describe_tags("feature_group", "players")["tags"] == players.get_tags() == {"owner": "ana"}
        assert project.describe_tags("feature_view", "scores", 1)["tags"] == view.get_tags() == {"reviewed": True}
        for kind, name, version in (("feature_group", "player", None), ("feature_view", "scores", 3)):
            with pytest.raises(lakebox.NotFoundError) as ours:
                project.describe_tags(kind, name, version)
            with pytest.raises(lakebox.NotFoundError) as theirs:
                (fs.get_feature_group if kind == "feature_group" else fs.get_feature_view)(name, version)
            assert ours.value.message == theirs.value.message
        with pytest.raises(lakebox.InvalidNameError):
            project.describe_tags("feature_group", "Bad Name")
        with pytest.raises(lakebox.ValidationError):
            project.describe_tags("model", "score_model")


def _text(box: Path, args: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "lakebox.cli", "--box", str(box), *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_text_listings_still_render(box: Path) -> None:
    assert "labels v1, players v1, teams v1" in _text(box, ["fv", "list"])
    assert "v1: 100%" in _text(box, ["deployments", "list"])
    assert "deployment scores" in _text(box, ["monitors", "list"])
