"""``lakebox serve --home``: every project's job scheduler runs in the server process (a real
server, a schedule per project that fires every second; waits for the runs, never for time)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jobs_helpers import wait_until, write_jobs

import lakebox


@pytest.mark.slow
def test_serve_home_runs_each_projects_schedules(tmp_path: Path) -> None:
    from lakebox.cli.serve import free_port

    home = tmp_path / "home"
    home.mkdir()
    pipeline = write_jobs(tmp_path)
    outs = {}
    for name in ("shop", "lab"):
        outs[name] = tmp_path / f"out-{name}"
        outs[name].mkdir()
        with lakebox.connect(home / f"{name}.lakebox") as project:
            job = project.get_job_api().create_job("tick", f"{pipeline}:scheduled", params={"out": str(outs[name])})
            job.schedule(cron="* * * * * *")  # every second
    process = subprocess.Popen(
        [sys.executable, "-m", "lakebox.cli", "serve", "--home", str(home), "--no-auth", "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for name, out in outs.items():
            wait_until(lambda out=out: (out / "runs.txt").exists(), f"a scheduled run of project {name}")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    for name in outs:
        with lakebox.connect(home / f"{name}.lakebox") as project:
            executions = project.get_job_api().get_job("tick").get_executions()
            for execution in executions:
                execution.wait()
            assert executions and all(e.trigger == "schedule" for e in executions)
