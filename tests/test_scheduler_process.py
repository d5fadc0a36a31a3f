"""The scheduler as its own process (``lakebox scheduler``) and inside ``lakebox serve``:
real processes, stopped with a signal once a scheduled run has happened."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jobs_helpers import wait_until, write_jobs

import lakebox


def _box_with_a_secondly_job(tmp_path: Path) -> tuple[Path, Path]:
    box, out = tmp_path / "s.lakebox", tmp_path / "out"
    out.mkdir()
    pipeline = write_jobs(tmp_path)
    with lakebox.connect(box) as project:
        job = project.get_job_api().create_job("tick", f"{pipeline}:scheduled", params={"out": str(out)})
        job.schedule(cron="* * * * * *")  # every second
    return box, out


def _stop(process: subprocess.Popen[str], box: Path) -> str:
    for _ in range(3):
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
            break
        except subprocess.TimeoutExpired:
            # Python prints and ignores a KeyboardInterrupt raised inside a callback (one landed
            # in importlib's module-lock cleanup on a loaded machine): interrupt again, as a person would
            continue
    else:
        process.kill()
        raise AssertionError(f"{process.args} ignored three interrupts: {process.communicate()[1]}")
    with lakebox.connect(box) as project:
        for execution in project.get_job_api().get_job("tick").get_executions():
            execution.wait()
    assert process.returncode == 0, stderr
    return stderr


@pytest.mark.slow
def test_lakebox_scheduler_runs_due_jobs_until_interrupted(tmp_path: Path) -> None:
    box, out = _box_with_a_secondly_job(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "lakebox.cli", "--box", str(box), "scheduler", "--interval",
                                "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: (out / "runs.txt").exists(), "a run started by `lakebox scheduler`")
    stderr = _stop(process, box)
    assert "started execution 1 of job tick" in stderr and "Scheduler stopped" in stderr


@pytest.mark.slow
def test_lakebox_serve_runs_the_scheduler(tmp_path: Path) -> None:
    from lakebox.cli.serve import free_port

    box, out = _box_with_a_secondly_job(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "lakebox.cli", "serve", str(box), "--no-auth", "--port",
                                str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: (out / "runs.txt").exists(), "a run started by the scheduler of `lakebox serve`")
    _stop(process, box)
