"""The job scheduler: cron fire times with an injected clock (nothing sleeps through minutes),
catch-up or skip of missed runs, one execution of a job at a time, commit triggers, the
background scheduler of ``lakebox serve``, and two schedulers on one box running each due
execution exactly once (two real processes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from jobs_helpers import wait_until, write_jobs

import lakebox
from lakebox.errors import NotFoundError, ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def job(project: lakebox.Project, tmp_path: Path, out: Path) -> Any:
    pipeline = write_jobs(tmp_path)
    return project.get_job_api().create_job("hourly", f"{pipeline}:scheduled", params={"out": str(out)})


def _runs(out: Path) -> list[str]:
    path = out / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


def _finish(started: list[Any], project: lakebox.Project) -> None:
    for s in started:
        project.get_job_api().get_execution(s.execution.id).wait()


def test_a_cron_schedule_runs_at_each_fire_time(project: lakebox.Project, job: Any, out: Path) -> None:
    clock = Clock(T0)
    scheduler = project.get_job_api().scheduler(clock)
    schedule = job.schedule(cron="0 * * * *", start=T0)
    assert schedule["next_run"] is not None and schedule["cron"] == "0 * * * *"
    clock.now = T0 + timedelta(minutes=59)
    assert scheduler.tick() == []
    clock.now = T0 + HOUR
    started = scheduler.tick()
    assert [s.reason for s in started] == ["cron 2026-01-01T01:00:00.000000Z"]
    assert scheduler.tick() == []  # claimed once, even while it runs
    _finish(started, project)
    assert scheduler.tick() == []  # and after
    assert _runs(out) == ["2026-01-01T01:00:00+00:00"]
    execution = job.get_executions()[0]
    assert execution.trigger == "schedule" and execution.window == (T0, T0 + HOUR)


def test_missed_runs_are_skipped_without_catch_up(project: lakebox.Project, job: Any, out: Path) -> None:
    scheduler = project.get_job_api().scheduler(Clock(T0 + 5 * HOUR + timedelta(minutes=1)))
    job.schedule(cron="0 * * * *", start=T0)
    started = scheduler.tick()  # the scheduler was down from 00:00 to 05:01: only 05:00 runs
    assert [s.reason for s in started] == ["cron 2026-01-01T05:00:00.000000Z"]
    _finish(started, project)
    assert scheduler.tick() == []
    assert _runs(out) == ["2026-01-01T05:00:00+00:00"]


def test_missed_runs_run_in_order_one_at_a_time_with_catch_up(project: lakebox.Project, job: Any,
                                                              out: Path) -> None:
    scheduler = project.get_job_api().scheduler(Clock(T0 + 3 * HOUR))
    job.schedule(cron="0 * * * *", start=T0, catch_up=True)
    first = scheduler.tick()
    assert [s.reason for s in first] == ["cron 2026-01-01T01:00:00.000000Z"]
    assert scheduler.tick() == []  # one execution of a job at a time: 02:00 waits
    _finish(first, project)
    second = scheduler.tick()
    assert [s.reason for s in second] == ["cron 2026-01-01T02:00:00.000000Z"]
    _finish(second, project)
    _finish(scheduler.tick(), project)
    assert scheduler.tick() == []
    assert _runs(out) == [f"2026-01-01T0{h}:00:00+00:00" for h in (1, 2, 3)]


def test_a_schedule_ends_and_can_be_removed(project: lakebox.Project, job: Any, out: Path) -> None:
    scheduler = project.get_job_api().scheduler(Clock(T0 + 10 * HOUR))
    job.schedule(cron="0 * * * *", start=T0 + 8 * HOUR, end=T0 + 9 * HOUR + timedelta(minutes=30))
    _finish(scheduler.tick(), project)
    assert _runs(out) == ["2026-01-01T09:00:00+00:00"]  # 10:00 is past the end
    job.unschedule()
    assert job.get_schedule() is None
    again = job.schedule(cron_expression="30 * * * *", start_time=T0)  # the Hopsworks names
    assert again["cron"] == "30 * * * *" and again["start"] == T0
    job.unschedule()
    with pytest.raises(NotFoundError):
        job.unschedule()
    with pytest.raises(ValidationError, match="cron expression"):
        job.schedule(cron="61 * * * *")
    with pytest.raises(ValidationError, match="Give a cron"):
        job.schedule()
    with pytest.raises(ValidationError, match="time zone"):
        job.schedule(cron="0 * * * *", timezone="Mars/Olympus")


def test_a_schedule_follows_its_time_zone(project: lakebox.Project, job: Any, out: Path) -> None:
    scheduler = project.get_job_api().scheduler(Clock(datetime(2026, 7, 1, 2, 30, tzinfo=UTC)))
    job.schedule(cron="0 4 * * *", timezone="Europe/Paris", start=datetime(2026, 6, 30, 12, tzinfo=UTC))
    _finish(scheduler.tick(), project)  # 04:00 in Paris in summer is 02:00 UTC
    assert _runs(out) == ["2026-07-01T02:00:00+00:00"]


def test_a_new_commit_of_a_group_triggers_the_job(project: lakebox.Project, job: Any, out: Path) -> None:
    fs = project.get_feature_store()
    fg = fs.create_feature_group("orders", version=1, primary_key=["id"], statistics=False)
    fg.insert(pa.table({"id": [1], "amount": [1.0]}))
    scheduler = project.get_job_api().scheduler(Clock(T0))
    job.schedule(trigger_on=[fg])
    assert job.get_schedule()["trigger_on"] == ["orders:1"]
    assert scheduler.tick() == []  # commits made before the schedule do not count
    fg.insert(pa.table({"id": [2], "amount": [2.0]}))
    started = scheduler.tick()
    assert [s.reason for s in started] == [f"commit 2 of group {fg.id}"]
    _finish(started, project)
    assert scheduler.tick() == []
    assert job.get_executions()[0].trigger == "commit"
    assert "triggers: job hourly" in str(project.lineage(fg, direction="down"))
    job.unschedule()
    assert "triggers" not in str(project.lineage(fg, direction="down"))


def test_an_external_group_cannot_trigger_a_job(project: lakebox.Project, job: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from lakebox import sources

    pq.write_table(pa.table({"id": [1], "x": [1.0]}), tmp_path / "orders.parquet")
    external = project.get_feature_store().create_external_feature_group(
        "ext_orders", source=sources.files(str(tmp_path / "orders.parquet")), primary_key=["id"])
    with pytest.raises(ValidationError, match="external feature group"):
        job.schedule(trigger_on=external)
    assert job.get_schedule() is None


def test_the_background_scheduler_of_serve_starts_due_runs(project: lakebox.Project, job: Any, out: Path) -> None:
    from lakebox.jobs.scheduler import start_in_background

    job.schedule(cron="* * * * * *")  # every second (cron with a seconds field)
    background = start_in_background(project, interval=0.05)
    try:
        wait_until(lambda: _runs(out), "a scheduled run")
    finally:
        background.stop()
    for execution in job.get_executions():
        execution.wait()


SCHEDULER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    import lakebox

    box, go, want = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    now = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=want)
    project = lakebox.connect(box)
    api = project.get_job_api()
    scheduler = api.scheduler(lambda: now)
    job = api.get_job("minutely")
    while not go.exists():
        time.sleep(0.01)
    started = 0
    while True:
        started += len(scheduler.tick())
        executions = job.get_executions()
        if len(executions) >= want and all(e.done for e in executions):
            break
        time.sleep(0.02)
    print(started)
    """
)


@pytest.mark.slow
def test_two_schedulers_run_each_due_execution_exactly_once(project: lakebox.Project, tmp_path: Path,
                                                            out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    job = project.get_job_api().create_job("minutely", f"{pipeline}:scheduled", params={"out": str(out)})
    job.schedule(cron="* * * * *", start=T0, catch_up=True)
    want = 4
    go = tmp_path / "go"
    processes = [
        subprocess.Popen([sys.executable, "-c", SCHEDULER_PROCESS, str(project.path), str(go), str(want)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    go.touch()
    results = [p.communicate() for p in processes]
    assert all(p.returncode == 0 for p in processes), results
    started = [int(stdout.strip()) for stdout, _ in results]
    assert sum(started) == want  # between them, each fire time was started once
    runs = _runs(out)
    assert runs == [(T0 + timedelta(minutes=m)).isoformat() for m in range(1, want + 1)]  # once each, in order
    executions = job.get_executions()
    assert [e.state for e in executions] == ["succeeded"] * want


def test_a_lock_between_threads_of_one_process_too(project: lakebox.Project, job: Any, out: Path) -> None:
    """Schedulers in threads of one process (a server and a CLI command) share the rule."""
    job.schedule(cron="0 * * * *", start=T0)
    api = project.get_job_api()
    results: list[int] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        barrier.wait()
        results.append(len(api.scheduler(Clock(T0 + HOUR)).tick()))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0, 1]
    for execution in job.get_executions():
        execution.wait()
    assert _runs(out) == ["2026-01-01T01:00:00+00:00"]
