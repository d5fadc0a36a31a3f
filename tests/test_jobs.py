"""Jobs: creation as catalog assets, executions in their own processes, logs, failures,
retries, timeouts and killed executions (real processes, real signals)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from jobs_helpers import wait_until, write_jobs

import lakebox
from lakebox.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError


@pytest.fixture
def jobs(project: lakebox.Project) -> Any:
    return project.get_job_api()


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    return write_jobs(tmp_path)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_a_file_job_is_copied_into_the_box_with_its_hash(jobs: Any, pipeline: Path, out: Path) -> None:
    import hashlib

    job = jobs.create_job("hello", str(pipeline), params={"out": str(out), "n": 1}, description="says hello")
    assert job.file_hash == hashlib.sha256(pipeline.read_bytes()).hexdigest()
    pipeline.write_text("def main(**params):\n    raise SystemError('the original changed')\n")
    execution = job.run(n=7)  # runs the copy it was created with
    assert execution.state == "succeeded", execution.logs()
    assert (out / f"ran-{execution.id}").read_text() == "7"
    assert "hello from the job 7" in execution.logs()
    assert execution.params == {"n": 7}
    assert execution.start is not None and execution.end is not None and execution.end >= execution.start
    assert execution.duration is not None and execution.duration >= 0
    assert execution.attempts == 1 and execution.commits == []
    again = jobs.get_job("hello")
    assert again.description == "says hello" and again.params == {"out": str(out), "n": 1}
    assert [e.number for e in again.get_executions()] == [1]


def test_update_copies_the_edited_file_and_keeps_the_history(project: lakebox.Project, jobs: Any, pipeline: Path,
                                                             out: Path) -> None:
    job = jobs.create_job("edited", str(pipeline), params={"out": str(out)})
    first_hash = job.file_hash
    assert job.run(n=1).success
    pipeline.write_text(pipeline.read_text().replace("hello from the job", "hello from the new job"))
    job.update(entrypoint=str(pipeline), retries=1, description="edited once", params={"out": str(out), "n": 9})
    assert job.file_hash != first_hash and job.retries == 1 and job.description == "edited once"
    execution = job.run()
    assert "hello from the new job 9" in execution.logs()
    assert [e.number for e in jobs.get_job("edited").get_executions()] == [1, 2]
    assert project.search("edited", kind="job")[0].description == "edited once"
    with pytest.raises(ValidationError, match="retries"):
        job.update(retries=-2)


def test_a_module_entrypoint_is_imported_by_name(jobs: Any, tmp_path: Path, out: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "mypipes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "daily.py").write_text(
        "from pathlib import Path\n\ndef build(out, day):\n    Path(out, 'built').write_text(day)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    job = jobs.create_job("daily", "mypipes.daily:build", params={"out": str(out)})
    assert job.file_hash is None
    execution = job.run(day="2026-01-01")
    assert execution.success, execution.logs()
    assert (out / "built").read_text() == "2026-01-01"


def test_bad_definitions_are_refused_and_nothing_is_written(jobs: Any, pipeline: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="neither"):
        jobs.create_job("a", "not an entrypoint")
    with pytest.raises(ValidationError, match="does not exist"):
        jobs.create_job("a", str(tmp_path / "missing.py"))
    with pytest.raises(ValidationError, match="no top-level function nope"):
        jobs.create_job("a", f"{pipeline}:nope")
    with pytest.raises(ValidationError, match="cannot be imported"):
        jobs.create_job("a", "no_such_module_anywhere:main")
    with pytest.raises(ValidationError, match="Job name"):
        jobs.create_job("Bad Name", str(pipeline))
    with pytest.raises(ValidationError, match="JSON"):
        jobs.create_job("a", str(pipeline), params={"x": object()})
    with pytest.raises(ValidationError, match="window_start"):
        jobs.create_job("a", str(pipeline), params={"window_start": "x"})
    with pytest.raises(ValidationError, match="cron"):
        jobs.create_job("a", str(pipeline), schedule="every day")
    with pytest.raises(ValidationError, match="retries"):
        jobs.create_job("a", str(pipeline), retries=-1)
    assert jobs.get_jobs() == []
    with pytest.raises(NotFoundError, match="No job named 'a'"):
        jobs.get_job("a")
    jobs.create_job("a", str(pipeline))
    with pytest.raises(AlreadyExistsError, match="exists already"):
        jobs.create_job("a", str(pipeline))


def test_jobs_are_searchable_taggable_assets(project: lakebox.Project, jobs: Any, pipeline: Path) -> None:
    job = jobs.create_job("nightly_sales", str(pipeline), description="aggregates the shop's sales")
    job.add_tag("team", "growth")
    assert job.get_tags() == {"team": "growth"}
    hits = project.search("sales", kind="job")
    assert [(h.kind, h.name) for h in hits] == [("job", "nightly_sales")]
    assert project.search("nightly", tags={"team": "growth"})[0].name == "nightly_sales"
    job.delete()
    assert project.search("sales", kind="job") == []
    assert not (project.path / "artifacts" / "jobs" / "nightly_sales").exists()


def test_a_failure_is_contained_and_logged(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("fails", f"{pipeline}:fail", params={"out": str(out)})
    execution = job.run(await_termination=True)  # the Hopsworks name of wait
    assert execution.state == "failed" and execution.success is False
    assert execution.error == "ValueError: boom in the job"
    logs = execution.logs()
    assert "about to fail" in logs and "Traceback" in logs and "ValueError: boom in the job" in logs
    assert Path(execution.download_logs(str(out / "copy.log"))).read_text() == logs
    crash = jobs.create_job("crashes", f"{pipeline}:crash", params={"out": str(out)})
    crashed = crash.run()
    assert crashed.state == "failed" and "SIGABRT" in (crashed.error or "")


def test_retries_back_off_and_then_succeed(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("flaky", f"{pipeline}:flaky", params={"out": str(out)}, retries=3, retry_delay=0.05)
    execution = job.run(failures=2)
    assert execution.state == "succeeded", execution.logs()
    assert execution.attempts == 3 and (out / "attempts").read_text() == "3"
    logs = execution.logs()
    assert "retrying in 0.05 s" in logs and "retrying in 0.1 s" in logs  # exponential backoff
    (out / "attempts").unlink()
    exhausted = jobs.create_job("flakier", f"{pipeline}:flaky", params={"out": str(out)}, retries=1,
                                retry_delay=0.01).run(failures=5)
    assert exhausted.state == "failed" and exhausted.attempts == 2
    assert exhausted.error == "RuntimeError: failure 2"


def test_a_timeout_stops_the_job(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("slow", f"{pipeline}:hang", params={"out": str(out)}, timeout=0.5)
    execution = job.run()
    assert execution.state == "timed_out" and "Timed out after 0.5 s" in (execution.error or "")
    pid = execution._row.worker_pid
    wait_until(lambda: not _alive(pid), "the timed-out job's process to end")


def test_wait_false_returns_at_once_and_kill_records_killed(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("forever", f"{pipeline}:hang", params={"out": str(out)})
    execution = job.run(wait=False)
    assert execution.state == "running" and not execution.done
    wait_until(lambda: list(out.glob("started-*")), "the job to start")
    pid = int(next(out.glob("started-*")).read_text())
    execution.kill()
    assert execution.state == "killed"
    wait_until(lambda: not _alive(pid), "the killed job's process to end")
    assert [e.state for e in job.get_executions()] == ["killed"]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_kill_escalates_when_the_job_ignores_sigterm(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("stubborn", f"{pipeline}:stubborn", params={"out": str(out)})
    execution = job.run(wait=False)
    wait_until(lambda: list(out.glob("started-*")), "the job to start")
    pid = int(next(out.glob("started-*")).read_text())
    assert execution.kill().state == "killed"  # SIGTERM is ignored: SIGKILL follows after a grace
    wait_until(lambda: not _alive(pid), "the stubborn job's process to end")


def test_a_job_process_killed_mid_run_is_recorded_as_killed(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("victim", f"{pipeline}:hang", params={"out": str(out)}, retries=2, retry_delay=0.01)
    execution = job.run(wait=False)
    wait_until(lambda: list(out.glob("started-*")), "the job to start")
    os.kill(int(next(out.glob("started-*")).read_text()), signal.SIGKILL)
    execution.wait()
    assert execution.state == "killed" and execution.attempts == 1  # a kill is never retried
    assert "SIGKILL" in (execution.error or "")


def test_an_execution_whose_supervisor_died_is_recorded_as_killed(project: lakebox.Project, jobs: Any,
                                                                   pipeline: Path, out: Path) -> None:
    job = jobs.create_job("orphan", f"{pipeline}:hang", params={"out": str(out)})
    execution = job.run(wait=False)
    wait_until(lambda: list(out.glob("started-*")), "the job to start")
    worker = int(next(out.glob("started-*")).read_text())
    supervisor = execution._row.pid
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not _alive(worker), "the job to stop once its supervisor died")
    # another process (a fresh project) reads it: the lock is free, so the execution is dead
    with lakebox.connect(project.path) as other:
        found = other.get_job_api().get_job("orphan").get_executions()
    assert [e.state for e in found] == ["killed"]
    assert "died" in (found[0].error or "")


def test_deleting_a_running_job_is_refused(jobs: Any, pipeline: Path, out: Path) -> None:
    job = jobs.create_job("busy", f"{pipeline}:hang", params={"out": str(out)})
    execution = job.run(wait=False)
    with pytest.raises(ConflictError, match="kill"):
        job.delete()
    execution.kill()
    job.delete()
    assert jobs.get_jobs() == []


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_commits_made_by_an_execution_are_recorded_with_lineage(project: lakebox.Project, jobs: Any,
                                                                 tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from jobs_helpers import WRITER_FILE

    path = tmp_path / "writer.py"
    path.write_text(WRITER_FILE)
    job = jobs.create_job("writer", str(path))
    fs = project.get_feature_store()
    first = job.backfill(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert first.succeeded, first.executions[0].logs()
    execution = first.executions[0]
    assert execution.commits == [{"feature_group": "daily", "version": 1, "commit_id": 1}]
    fg = fs.get_feature_group("daily", version=1)
    graph = project.lineage(job)
    assert "writes: feature_group daily v1" in str(graph)
    assert fg.read().shape[0] == 2


SHARED_WRITER = """
import time
from pathlib import Path

import pyarrow as pa

import lakebox


def main(go):
    fg = lakebox.connect().get_feature_store().get_feature_group("shared", version=1)
    while not Path(go).exists():  # the test commits first, from its own process
        time.sleep(0.01)
    fg.insert(pa.table({"id": [3], "x": [3.0]}))
"""


@pytest.mark.slow
def test_commits_of_other_processes_meanwhile_are_not_the_executions(project: lakebox.Project, jobs: Any,
                                                                     tmp_path: Path) -> None:
    import pyarrow as pa

    fg = project.get_feature_store().create_feature_group("shared", version=1, primary_key=["id"], statistics=False)
    fg.insert(pa.table({"id": [1], "x": [1.0]}))
    path = tmp_path / "shared_writer.py"
    path.write_text(SHARED_WRITER)
    go = tmp_path / "go"
    execution = jobs.create_job("shared_writer", str(path)).run(wait=False, go=str(go))
    wait_until(lambda: execution.refresh()._row.worker_pid, "the job's worker to start")
    fg.insert(pa.table({"id": [2], "x": [2.0]}))  # commit 2, by this process, while the job runs
    go.touch()
    assert execution.wait().state == "succeeded", execution.logs()
    assert execution.commits == [{"feature_group": "shared", "version": 1, "commit_id": 3}]


CHILD_WRITER = """
import subprocess
import sys

WRITE = (
    "import lakebox, pyarrow as pa; fs = lakebox.connect().get_feature_store(); "
    "fs.get_or_create_feature_group('child_written', version=1, primary_key=['id'], statistics=False)"
    ".insert(pa.table({'id': [1], 'x': [1.0]}))"
)


def main():
    subprocess.run([sys.executable, "-c", WRITE], check=True)  # the write happens in a child process
"""


@pytest.mark.slow
def test_commits_made_by_a_child_process_of_the_job_are_the_executions(jobs: Any, tmp_path: Path) -> None:
    path = tmp_path / "child_writer.py"
    path.write_text(CHILD_WRITER)
    execution = jobs.create_job("child_writer", str(path)).run()
    assert execution.state == "succeeded", execution.logs()
    assert execution.commits == [{"feature_group": "child_written", "version": 1, "commit_id": 1}]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return sys.platform != "linux"
