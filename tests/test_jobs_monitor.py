"""A drift monitor (issue 13) scheduled as a job: each scheduled run scores the window that
ends at its fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

import lakebox
from lakebox.errors import NotFoundError


@pytest.mark.slow
def test_a_drift_monitor_runs_on_its_schedule(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    now = datetime.now(UTC)
    fire = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    ts = [fire - timedelta(hours=20) + timedelta(minutes=10 * i) for i in range(60)]
    sales = fs.create_feature_group("sales", version=1, primary_key=["id"], event_time="ts", statistics=False)
    sales.insert(pa.table({"id": np.arange(60), "ts": pa.array(ts, pa.timestamp("us", "UTC")),
                           "amount": np.random.default_rng(7).normal(100, 10, 60)}))
    view = fs.create_feature_view("sales_view", version=1, query=sales.select_all())
    version = view.create_training_dataset()
    fs.create_drift_monitor("sales_drift", source=sales, reference=(view, version), window="1d")
    with pytest.raises(NotFoundError):
        project.get_job_api().schedule_drift_monitor("no_such_monitor", cron="0 0 * * *")

    job = project.get_job_api().schedule_drift_monitor("sales_drift", cron="0 0 * * *")
    assert job.name == "drift_sales_drift" and job.get_schedule()["next_run"] == fire
    started = project.get_job_api().scheduler(lambda: fire + timedelta(minutes=1)).tick()
    assert [s.job for s in started] == ["drift_sales_drift"]
    execution = job.get_executions()[0].wait()
    assert execution.state == "succeeded", execution.logs()
    assert "drift monitor sales_drift: 60 rows" in execution.logs()
    runs = fs.get_drift_monitor("sales_drift").history()
    assert len(runs) == 1 and datetime.fromisoformat(runs[0].window_end.replace("Z", "+00:00")) == fire
