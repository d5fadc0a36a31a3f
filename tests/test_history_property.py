"""Property test: any sequence of inserts, deletes, rollbacks and compactions leaves a history
in which reading as of EVERY commit equals the plain-Python model after that commit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from budget import examples
from helpers import TS, day, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model import HistoryModel, Row

import lakebox
from lakebox import Feature

KEYS = st.integers(min_value=0, max_value=4)
TIMES = st.sampled_from([day(1), day(2), day(3)])
VALUES = st.one_of(st.none(), st.integers(min_value=-3, max_value=3).map(float))
TEXTS = st.one_of(st.none(), st.text(alphabet="ab é", max_size=3))
FRAMES = st.sampled_from(["arrow", "pandas", "polars"])
# A few in the inner loop, more in CI (budget.py); hunt locally with e.g. LAKEBOX_EXAMPLES=500.
EXAMPLES = examples(dev=8, ci=50)


def _row(has_event_time: bool) -> st.SearchStrategy[Row]:
    if has_event_time:
        return st.tuples(KEYS, TIMES, VALUES, TEXTS)
    return st.tuples(KEYS, VALUES, TEXTS)


def _operations(has_event_time: bool) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    key_width = 2 if has_event_time else 1
    insert = st.tuples(
        st.just("insert"),
        st.lists(_row(has_event_time), min_size=1, max_size=5, unique_by=lambda r: r[:key_width]),
        FRAMES,
    )
    by_key = st.lists(st.tuples(KEYS), min_size=1, max_size=3, unique=True)
    by_key_and_time = st.lists(st.tuples(KEYS, TIMES), min_size=1, max_size=3, unique=True)
    delete = st.tuples(st.just("delete"), st.one_of(by_key, by_key_and_time) if has_event_time else by_key)
    rollback = st.tuples(st.just("rollback"), st.integers(min_value=0, max_value=1000))
    compact = st.tuples(st.just("compact"))
    return st.lists(
        st.one_of(insert, insert, delete, rollback, compact), min_size=1, max_size=8
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[bool, list[tuple[Any, ...]]]:
    has_event_time = draw(st.booleans())
    return has_event_time, draw(_operations(has_event_time))


def _frame(names: list[str], types: list[pa.DataType], data: list[Row], kind: str) -> Any:
    columns = list(zip(*data, strict=True)) if data else [() for _ in names]
    table = pa.table({n: pa.array(list(c), t) for n, t, c in zip(names, types, columns, strict=True)})
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_commit_reads_as_the_model_says(scenario: tuple[bool, list[tuple[Any, ...]]]) -> None:
    has_event_time, operations = scenario
    names = ["k", "ts", "v", "s"] if has_event_time else ["k", "v", "s"]
    types = [pa.int64(), TS, pa.float64(), pa.string()] if has_event_time else [pa.int64(), pa.float64(), pa.string()]
    features = [Feature(n, t) for n, t in zip(names, ["bigint", "timestamp", "double", "string"] if has_event_time else ["bigint", "double", "string"], strict=True)]
    model = HistoryModel(has_event_time)
    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "box") as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group(
            "g", version=1, primary_key=["k"], event_time="ts" if has_event_time else None, features=features
        )
        for operation in operations:
            kind = operation[0]
            if kind == "insert":
                _, batch, frame_kind = operation
                commit = fg.insert(_frame(names, types, batch, frame_kind))
                expected = model.insert(batch)
                assert (commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (
                    expected.inserted,
                    expected.updated,
                    0,
                ), operation
            elif kind == "delete":
                keys = operation[1]
                width = len(keys[0])
                deleted = fg.delete_records(_frame(names[:width], types[:width], keys, "arrow"))
                expected_delete = model.delete(keys)
                if expected_delete is None:
                    assert deleted is None, operation
                else:
                    assert deleted is not None and deleted.rows_deleted == expected_delete.deleted, operation
            elif kind == "rollback":
                if model.last_commit == 0:
                    continue
                target = 1 + operation[1] % model.last_commit
                commit = fg.rollback(target)
                expected = model.rollback(target)
                assert commit.kind == "rollback"
                assert (commit.rows_inserted, commit.rows_deleted) == (expected.inserted, expected.deleted), operation
            else:
                compacted = fg.compact()
                if compacted is not None:
                    model.compact()
                    assert (compacted.rows_inserted, compacted.rows_updated, compacted.rows_deleted) == (0, 0, 0)
            commit_ids = [c.commit_id for c in fg.commits()]
            assert commit_ids == list(range(1, model.last_commit + 1)), operation

        assert rows(fg.read(dataframe_type="arrow")) == model.rows_at(model.last_commit)
        for commit_id in range(1, model.last_commit + 1):
            got = rows(fg.read(wallclock_time=commit_id, dataframe_type="arrow"))
            assert got == model.rows_at(commit_id), f"as of commit {commit_id}"
        for commit_id in range(2, model.last_commit + 1):
            for since in sorted({1, commit_id - 1}):
                changes = fg.as_of(commit_id, exclude_until=since).read(dataframe_type="arrow")
                assert rows(changes) == model.changes(since, commit_id), f"changes {since}..{commit_id}"
        order = "k, ts" if has_event_time else "k"
        via_sql = rows(fs.sql(f"SELECT * FROM g_1 ORDER BY {order}", dataframe_type="arrow"))
        assert via_sql == model.rows_at(model.last_commit)
