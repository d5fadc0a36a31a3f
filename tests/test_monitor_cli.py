"""``lakebox deployments ...`` and ``lakebox monitors ...`` (issue 13), run with click's
CliRunner against a real box: list, show, predict, delete; list, run (--all, --at,
--fail-on-alert), history, alerts; JSON output and one-line errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from deploy_world import DAY1, build, players_table

from lakebox.cli import cli

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def run(box: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner(env=ENV).invoke(cli, ["--box", str(box), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def run_json(box: Path, *args: str, code: int = 0) -> Any:
    return json.loads(run(box, "-o", "json", *args, code=code).stdout)


@pytest.mark.slow  # eight CLI runs, each opening the box and loading the model: ~12 s
def test_deployments_cli(project: Any, box_path: Path, tmp_path: Path) -> None:
    world = build(project, tmp_path)
    world.models[0].deploy(name="scores")
    assert "scores" in run(box_path, "deployments", "list").stdout
    listed = run_json(box_path, "deployments", "list")["deployments"]
    assert [d["name"] for d in listed] == ["scores"] and listed[0]["traffic"] == {"1": 100}
    local = project.get_model_serving().get_deployment("scores").predict([{"pid": 3}, {"pid": 4}])
    answer = run_json(box_path, "deployments", "predict", "scores", "-e", "pid=3", "-e", '{"pid": 4}')
    assert answer == local
    text = run(box_path, "deployments", "predict", "scores", "-e", "pid=3").stdout
    assert "present" in text
    shown = run_json(box_path, "deployments", "show", "scores")
    assert shown["features"] == ["age", "skill", "team_id", "budget"] and shown["log_rows"] == 5  # 2 in-process, 3 by the CLI
    assert [r["pid"] for r in shown["latest_predictions"]] == [3, 4, 3, 4, 3]  # newest first
    assert "serves model score_model" in run(box_path, "deployments", "show", "scores").stdout
    error = run(box_path, "deployments", "predict", "scores", "-e", "pid=99999", code=1)
    assert "Deployment 'scores'" in error.output and "Traceback" not in error.output
    split = run_json(box_path, "deployments", "traffic", "scores", "1=80", "2=20")
    assert split["traffic"] == {"1": 80.0, "2": 20.0}
    assert project.get_model_serving().get_deployment("scores").predict([{"pid": p} for p in range(50)])["model_versions"] != [1] * 50
    assert "v2: 100%" in run(box_path, "deployments", "traffic", "scores", "2").stdout
    assert "VERSION=PERCENT" in run(box_path, "deployments", "traffic", "scores", "x=1", code=1).output
    run(box_path, "deployments", "delete", "scores")
    assert run_json(box_path, "deployments", "list") == {"deployments": []}
    assert "No deployment named" in run(box_path, "deployments", "show", "scores", code=1).output


def test_monitors_cli(project: Any, box_path: Path, tmp_path: Path) -> None:
    world = build(project, tmp_path)
    fs = world.fs
    fs.create_drift_monitor("players_drift", source=world.players, reference=(world.view, world.td_version))
    week = DAY1 + timedelta(days=7)
    world.players.insert(players_table(300, seed=5, shift=1.5, start=5000, when=week))
    assert "players_drift" in run(box_path, "monitors", "list").stdout
    calm = run_json(box_path, "monitors", "run", "players_drift", "--at", (DAY1 + timedelta(hours=1)).isoformat())
    assert calm["runs"][0]["alert"] is False
    at = (week + timedelta(hours=1)).isoformat()
    text = run(box_path, "monitors", "run", "--all", "--at", at).stdout
    assert "ALERT" in text and "players_drift" in text
    run(box_path, "monitors", "run", "--all", "--at", at, "--fail-on-alert", code=2)
    history = run_json(box_path, "monitors", "history", "players_drift")["runs"]
    assert [r["alert"] for r in history] == [True, True, False]
    alerts = run_json(box_path, "monitors", "alerts")["alerts"]
    assert len(alerts) == 2 and "age" in alerts[0]["message"]
    assert "players_drift" in run(box_path, "monitors", "alerts").stdout
    assert "not both" in run(box_path, "monitors", "run", "players_drift", "--all", code=1).output
