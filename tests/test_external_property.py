"""Property: point-in-time joins over random histories give the oracle's rows whether a group
is internal (Iceberg) or external (Parquet files read at each use), mixed in one call."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pit_oracle import Group, expected_rows

import lakebox
import lakebox.sources as sources

T0 = datetime(2026, 4, 1, tzinfo=UTC)
EXAMPLES = int(os.environ.get("LAKEBOX_EXTERNAL_EXAMPLES", "8"))


def history(value: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows with distinct (key, hour)."""
    cell = st.tuples(st.integers(0, 3), st.integers(0, 24))
    return st.lists(cell, min_size=1, max_size=25, unique=True).flatmap(
        lambda cells: st.lists(st.integers(-50, 50), min_size=len(cells), max_size=len(cells)).map(
            lambda values: [{"k": k, "ts": T0 + timedelta(hours=h), value: float(v)} for (k, h), v in zip(cells, values)]
        )
    )


spines = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 26)), min_size=1, max_size=20).map(
    lambda cells: [{"k": k, "ts": T0 + timedelta(hours=h)} for k, h in cells]
)


@pytest.mark.slow  # ~3 s per example (a box each)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(inner=history("a"), outer=history("b"), spine=spines, max_age=st.sampled_from([None, timedelta(hours=5)]))
def test_mixed_joins_equal_the_oracle(inner: list[dict[str, Any]], outer: list[dict[str, Any]],
                                      spine: list[dict[str, Any]], max_age: timedelta | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pq.write_table(pa.Table.from_pylist(outer), root / "outer.parquet")
        with lakebox.connect(root / "box") as project:
            fs = project.get_feature_store()
            fs.create_feature_group("inner_g", primary_key=["k"], event_time="ts", statistics=False).insert(
                pd.DataFrame(inner))
            fs.create_external_feature_group("outer_g", source=sources.files(root / "outer.parquet"),
                                             primary_key=["k"], event_time="ts", statistics=False)
            got = fs.get_features(["a", "b"], entity_df=pd.DataFrame(spine), max_age=max_age, dataframe_type="arrow")
    groups = [Group("inner_g", ["k"], "ts", inner), Group("outer_g", ["k"], "ts", outer)]
    want = expected_rows(spine, ["k", "ts"], groups, [("inner_g", "a"), ("outer_g", "b")], "ts", max_age=max_age)
    assert [tuple(r.values()) for r in got.to_pylist()] == want
