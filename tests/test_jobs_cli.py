"""``lakebox jobs ...`` and ``lakebox scheduler``, run with click's CliRunner on a real box."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jobs_helpers import write_jobs

import lakebox
from lakebox.cli import cli


@pytest.fixture
def box(tmp_path: Path) -> Path:
    path = tmp_path / "cli.lakebox"
    lakebox.connect(path).close()
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def lb(box: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["--box", str(box), *args])
    assert result.exit_code == code, result.output
    return result


def test_create_run_show_logs(box: Path, tmp_path: Path, out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    lb(box, "jobs", "create", "hello", str(pipeline), "--param", f"out={out}", "--param", "n=2",
       "--description", "greets")
    ran = json.loads(lb(box, "-o", "json", "jobs", "run", "hello", "--param", "n=5").output)
    assert ran["state"] == "succeeded" and ran["params"] == {"n": 5} and ran["number"] == 1
    assert (out / f"ran-{ran['id']}").read_text() == "5"
    assert "hello from the job 5" in lb(box, "jobs", "logs", "hello").output
    lb(box, "jobs", "run", "hello", "--no-wait", "--param", "n=6")
    followed = lb(box, "jobs", "logs", "hello", "--follow").output  # returns once the execution ends
    assert "hello from the job 6" in followed and "execution 2 of job hello: succeeded" in followed
    shown = json.loads(lb(box, "-o", "json", "jobs", "show", "hello").output)
    assert shown["description"] == "greets" and [e["state"] for e in shown["executions"]] == ["succeeded"] * 2
    listed = json.loads(lb(box, "-o", "json", "jobs", "list").output)
    assert [(j["name"], j["executions"]) for j in listed["jobs"]] == [("hello", 2)]
    assert "succeeded" in lb(box, "jobs", "show", "hello").output
    assert "hello" in lb(box, "jobs", "list").output


def test_a_failing_run_exits_with_1_and_errors_are_one_line(box: Path, tmp_path: Path, out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    lb(box, "jobs", "create", "fails", f"{pipeline}:fail", "--param", f"out={out}")
    failed = lb(box, "jobs", "run", "fails", code=1)
    assert "failed" in failed.output and "ValueError: boom in the job" in failed.output
    missing = lb(box, "jobs", "run", "nope", code=1)
    assert "No job named 'nope'" in missing.output and "Traceback" not in missing.output
    assert "--every takes" in lb(box, "jobs", "backfill", "fails", "--start", "2026-01-01", "--end", "2026-01-02",
                                 "--every", "daily", code=1).output


def test_backfill_failure_then_resume(box: Path, tmp_path: Path, out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    lb(box, "jobs", "create", "w", f"{pipeline}:windowed", "--param", f"out={out}")
    failed = lb(box, "-o", "json", "jobs", "backfill", "w", "--start", "2026-01-01", "--end", "2026-01-03",
                "--param", "fail_on=2026-01-02", code=1)
    data = json.loads(failed.output)
    assert data["state"] == "failed" and data["remaining"] == [["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]]
    resumed = lb(box, "jobs", "backfill", "w", "--start", "2026-01-01", "--end", "2026-01-03", "--resume")
    assert "1 window(s) succeeded" in resumed.output and "skipped" in resumed.output


def test_schedule_scheduler_once_and_unschedule(box: Path, tmp_path: Path, out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    lb(box, "jobs", "create", "s", f"{pipeline}:scheduled", "--param", f"out={out}")
    lb(box, "jobs", "schedule", "s", "--cron", "0 * * * *", "--start", "2026-01-01T00:00:00Z")
    shown = json.loads(lb(box, "-o", "json", "jobs", "show", "s").output)
    assert shown["schedule"]["cron"] == "0 * * * *"
    once = lb(box, "scheduler", "--once")  # the 2026-01-01 start is long past: the latest fire runs
    assert "started execution 1 of job s" in once.output
    with lakebox.connect(box) as project:
        project.get_job_api().get_job("s").get_executions()[0].wait()
    assert (out / "runs.txt").read_text().count("\n") == 1
    lb(box, "jobs", "unschedule", "s")
    assert json.loads(lb(box, "-o", "json", "jobs", "show", "s").output)["schedule"] is None
    assert "Invalid cron" in lb(box, "jobs", "schedule", "s", "--cron", "99 * * * *", code=1).output
    lb(box, "jobs", "delete", "s")
    assert json.loads(lb(box, "-o", "json", "jobs", "list").output) == {"jobs": []}
