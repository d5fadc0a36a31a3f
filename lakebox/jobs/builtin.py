"""Job functions lakebox ships, for schedules of its own work: ``run_drift_monitor`` scores a
drift monitor (issue 13) once per scheduled run, over the window that ends at the run's fire
time (``job_api.schedule_drift_monitor(name, cron)`` creates the job)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def run_drift_monitor(monitor: str, scheduled_for: datetime | None = None, **_: Any) -> None:
    """Run drift monitor ``monitor`` of the job's box for the window ending at ``scheduled_for``
    (now, when run by hand); an alert is recorded by the monitor and printed to the log."""
    import lakebox

    with lakebox.connect() as project:
        run = project.get_feature_store().get_drift_monitor(monitor).run(at=scheduled_for)
    print(f"drift monitor {monitor}: {run.rows} rows in {run.window_start} .. {run.window_end}; "
          + (f"ALERT on {sorted({r['feature'] for r in run.alerts})}" if run.alert else "no drift"))
