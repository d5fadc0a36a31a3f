"""``fg.insert(df, wait=True)`` (hsfs' flag) returns once the statistics a big insert stores in
the background are stored; ``get_statistics`` waits for them either way."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lakebox.write.statistics import BACKGROUND_ROWS


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"pid": range(n), "ts": pd.Timestamp("2026-01-01", tz="UTC"), "age": [float(i) for i in range(n)]})


def test_insert_with_wait_returns_after_its_background_statistics_are_stored(project: Any) -> None:
    fg = project.get_feature_store().create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
    commit = fg.insert(_frame(BACKGROUND_ROWS), wait=True)
    writer = project.engines.writer
    assert writer.statistics_jobs.pending() == 0
    # stored in the catalog, read without going through anything that waits
    assert project.engines.groups.statistics(fg.id, commit.commit_id) is not None
    assert fg.get_statistics().to_dict()["age"]["count"] == BACKGROUND_ROWS
