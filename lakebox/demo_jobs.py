"""The jobs step of ``lakebox demo``: a feature pipeline backfilled over the demo's days.

The job ``team_daily`` reads one day of ``games`` (a window of the backfill) and writes each
home team's games and mean attendance that day into ``team_daily_attendance``, keyed by team
and day, so re-running a day replaces its rows. The backfill runs one execution per day, each
in its own process; the executions record the commits they made, and the job's lineage shows
the group it writes.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOB_NAME = "team_daily"
GROUP_NAME = "team_daily_attendance"
MAX_WINDOWS = 2  # a short backfill keeps the demo fast

PIPELINE = '''"""lakebox demo pipeline: each home team's games and mean attendance per day."""

import lakebox


def main(window_start, window_end):
    fs = lakebox.connect().get_feature_store()
    games = fs.get_feature_group("games", version=1)
    day = games.filter((games.ts >= window_start) & (games.ts < window_end)).read()
    daily = (day.groupby("home_team_id")
                .agg(games=("game_id", "count"), mean_attendance=("attendance", "mean"))
                .reset_index()
                .rename(columns={"home_team_id": "team_id"}))
    daily["day"] = window_start
    group = fs.get_or_create_feature_group(
        "team_daily_attendance", version=1, primary_key=["team_id"], event_time="day",
        description="Home games and mean attendance per team and day (written by the job team_daily).")
    group.insert(daily)
    print(f"{window_start:%Y-%m-%d}: {len(day)} games, {len(daily)} home teams")
'''


def delete_demo_job(project: Any) -> list[str]:
    """Delete what a previous demo's jobs step made (the job and the group it writes)."""
    deleted = []
    api = project.get_job_api()
    if any(job.name == JOB_NAME for job in api.get_jobs()):
        api.get_job(JOB_NAME).delete()
        deleted.append(f"job {JOB_NAME}")
    fs = project.get_feature_store()
    for group in fs.get_feature_groups(GROUP_NAME):
        group.delete()
        deleted.append(f"{group.name} v{group.version}")
    return deleted


def run_demo_backfill(project: Any, start: Any, days: int) -> dict[str, Any]:
    """Create the demo job and backfill it over the first days of the demo (plain data)."""
    deleted = delete_demo_job(project)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "team_daily.py"
        source.write_text(PIPELINE)
        job = project.get_job_api().create_job(
            JOB_NAME, str(source), description="Daily home games and attendance per team, from games.")
    windows = min(days, MAX_WINDOWS)
    result = job.backfill(start, start + timedelta(days=windows), every=timedelta(days=1), parallelism=windows)
    group_rows = None
    if result.succeeded:
        group_rows = len(project.get_feature_store().get_feature_group(GROUP_NAME, version=1).read())
    lineage = project.lineage(job, direction="down")
    return {
        "job": job.to_dict(),
        "deleted": deleted,
        "backfill": result.to_dict(),
        "succeeded": result.succeeded,
        "group": GROUP_NAME,
        "group_rows": group_rows,
        "lineage": str(lineage).strip(),
        "log_tail": result.executions[-1].logs(tail=3) if result.executions else "",
    }
