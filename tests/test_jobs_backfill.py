"""Backfills: one execution per window, in order; a failed window stops the backfill and says
what remains; resume runs only what has not succeeded; re-running a window replaces its rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobs_helpers import WRITER_FILE, write_jobs

import lakebox
from lakebox.errors import ValidationError

DAY = timedelta(days=1)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def job(project: lakebox.Project, tmp_path: Path, out: Path) -> Any:
    pipeline = write_jobs(tmp_path)
    return project.get_job_api().create_job("windows", f"{pipeline}:windowed", params={"out": str(out)})


def _runs(out: Path) -> list[str]:
    path = out / "windows.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_one_execution_per_window_in_order(job: Any, out: Path) -> None:
    result = job.backfill(date(2026, 1, 1), datetime(2026, 1, 3, 12, tzinfo=UTC), every=DAY)
    assert result.succeeded and result.remaining == []
    assert _runs(out) == [
        "2026-01-01T00:00:00+00:00 2026-01-02T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00 2026-01-03T00:00:00+00:00",
        "2026-01-03T00:00:00+00:00 2026-01-03T12:00:00+00:00",  # the last window ends at the end
    ]
    executions = job.get_executions()
    assert [(e.number, e.trigger, e.state) for e in executions] == [(i, "backfill", "succeeded") for i in (1, 2, 3)]
    assert executions[0].window == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def test_a_failed_window_stops_the_backfill_and_resume_continues(job: Any, out: Path) -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)
    failed = job.backfill(start, end, every=DAY, fail_on="2026-01-02")
    assert failed.state == "failed" and not failed.succeeded
    assert failed.failed_window == (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    assert [w[0].day for w in failed.remaining] == [2, 3]  # the failed one and those never started
    assert [e.state for e in failed.executions] == ["succeeded", "failed"]
    assert len(_runs(out)) == 2
    resumed = job.backfill(start, end, every=DAY, resume=True)  # the cause is fixed: no fail_on
    assert resumed.succeeded and [w[0].day for w in resumed.skipped] == [1]
    assert [e.window[0].day for e in resumed.executions] == [2, 3]
    assert [line[:10] for line in _runs(out)] == ["2026-01-01", "2026-01-02", "2026-01-02", "2026-01-03"]
    nothing_left = job.backfill(start, end, every=DAY, resume=True)
    assert nothing_left.succeeded and nothing_left.executions == [] and len(nothing_left.skipped) == 3


def test_parallel_windows_all_run(job: Any, out: Path) -> None:
    result = job.backfill(date(2026, 2, 1), date(2026, 2, 5), every=DAY, parallelism=2)
    assert result.succeeded and len(result.executions) == 4
    assert sorted(line[:10] for line in _runs(out)) == ["2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04"]
    assert [e.window[0].day for e in result.executions] == [1, 2, 3, 4]


def test_bad_backfills_are_refused(job: Any) -> None:
    with pytest.raises(ValidationError, match="after its start"):
        job.backfill(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(ValidationError, match="positive timedelta"):
        job.backfill(date(2026, 1, 1), date(2026, 1, 2), every=timedelta(0))
    with pytest.raises(ValidationError, match="parallelism"):
        job.backfill(date(2026, 1, 1), date(2026, 1, 2), parallelism=0)
    with pytest.raises(ValidationError, match="ISO-8601"):
        job.backfill("yesterday", date(2026, 1, 2))
    assert job.get_executions() == []


def test_a_function_without_window_parameters_fails_clearly(project: lakebox.Project, tmp_path: Path,
                                                            out: Path) -> None:
    pipeline = write_jobs(tmp_path)
    job = project.get_job_api().create_job("plain", f"{pipeline}:plain", params={"out": str(out)})
    result = job.backfill(date(2026, 1, 1), date(2026, 1, 2))
    assert result.state == "failed"
    assert "must accept window_start, window_end" in (result.executions[0].error or "")


@pytest.mark.slow
def test_rerunning_a_window_replaces_its_rows(project: lakebox.Project, tmp_path: Path) -> None:
    path = tmp_path / "writer.py"
    path.write_text(WRITER_FILE)
    job = project.get_job_api().create_job("sales", str(path))
    start, end = date(2026, 3, 1), date(2026, 3, 3)
    assert job.backfill(start, end).succeeded
    again = job.backfill(start, end, value=5)  # the same windows again, with corrected values
    assert again.succeeded
    fg = project.get_feature_store().get_feature_group("daily", version=1)
    rows = fg.read().sort_values(["day", "shop"])
    assert len(rows) == 4  # 2 shops x 2 days, not 8: a window's rows are replaced by key and event time
    assert rows["sales"].tolist() == [5, 10, 5, 10]
    assert [c["commit_id"] for e in again.executions for c in e.commits] == [3, 4]
