"""Jobs: feature pipelines run in their own processes, with executions, logs, backfills,
cron schedules and commit triggers (``project.get_job_api()``; docs/pipelines.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["Backfill", "Execution", "Job", "JobApi", "Scheduler"]


def __getattr__(name: str) -> Any:
    if name in ("Job", "JobApi"):
        from lakebox.jobs import api

        return getattr(api, name)
    if name == "Execution":
        from lakebox.jobs.execution import Execution

        return Execution
    if name == "Backfill":
        from lakebox.jobs.backfill import Backfill

        return Backfill
    if name == "Scheduler":
        from lakebox.jobs.scheduler import Scheduler

        return Scheduler
    raise AttributeError(f"module 'lakebox.jobs' has no attribute {name!r}")
