"""The jobs step of ``lakebox demo``: a pipeline job backfilled over the demo's first days."""

from __future__ import annotations

import pytest

import lakebox
from lakebox.demo import START, build_demo_box
from lakebox.demo_jobs import GROUP_NAME, JOB_NAME, run_demo_backfill


@pytest.mark.slow
def test_the_demo_backfill_writes_one_commit_per_day_and_reruns_cleanly(project: lakebox.Project) -> None:
    built = build_demo_box(project, days=2)
    first = run_demo_backfill(project, START, built.days)
    assert first["succeeded"], first["log_tail"]
    executions = first["backfill"]["executions"]
    assert [e["state"] for e in executions] == ["succeeded", "succeeded"]
    assert sorted(c["commit_id"] for e in executions for c in e["commits"]) == [1, 2]
    assert first["group_rows"] == 40  # 20 home teams x 2 days
    assert f"writes: feature_group {GROUP_NAME} v1" in first["lineage"]
    again = run_demo_backfill(project, START, built.days)  # a second demo run starts from scratch
    assert again["deleted"] == [f"job {JOB_NAME}", f"{GROUP_NAME} v1"]
    assert again["succeeded"] and again["group_rows"] == 40
