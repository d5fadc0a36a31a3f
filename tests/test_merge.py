"""Merges read keys, not rows: an insert or delete rewrites only the data files that really
hold its (key, event time) pairs, reports the stored rows it replaced, and writes files sorted
by key (offline/table.py, offline/locate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model import HistoryModel, Row
from pyiceberg.types import StringType

from lakebox.offline import deletes, reader
from lakebox.offline.removed import RemovedRows
from lakebox.offline.table import GroupTable, WriteResult
from lakebox.offline.warehouse import Warehouse


@pytest.fixture(autouse=True)
def _copy_on_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about copy-on-write merges (files rewritten without the replaced rows)
    and the key index under them; merge-on-read updates are tested in test_merge_on_read.py."""
    monkeypatch.setenv(deletes.MODE_ENV, deletes.COPY_ON_WRITE)

SCHEMA = pa.schema([("k", pa.int64()), ("ts", TS), ("v", pa.float64()), ("s", pa.string())])


def _group(root: Path, event_time: bool = True) -> GroupTable:
    (root / "warehouse").mkdir()
    warehouse = Warehouse(root / "warehouse")
    schema = SCHEMA if event_time else SCHEMA.remove(1)
    warehouse.create("t", schema)
    (root / "locks").mkdir(exist_ok=True)
    return GroupTable(warehouse, "t", ["k"], "ts" if event_time else None, root / "locks")


def _rows(keys: list[int], days: list[int] | int = 1, value: float = 1.0) -> pa.Table:
    day_list = [days] * len(keys) if isinstance(days, int) else days
    return pa.table(
        {
            "k": pa.array(keys, pa.int64()),
            "ts": pa.array([day(d) for d in day_list], TS),
            "v": pa.array([value + k for k in keys], pa.float64()),
            "s": pa.array([f"r{k}" for k in keys], pa.string()),
        }
    )


def _files(group: GroupTable) -> set[str]:
    table = group.load()
    snapshot = table.current_snapshot()
    return {t.file.file_path for t in reader.plan(table, snapshot.snapshot_id if snapshot else None)}


def _read(group: GroupTable) -> list[dict[str, Any]]:
    table = group.load()
    snapshot = table.current_snapshot()
    schema = reader.canonical_schema(table)
    rows = reader.read(table, snapshot.snapshot_id if snapshot else None, schema, order_by=list(group.keys))
    return rows.to_pylist()


def test_new_keys_rewrite_no_file(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_rows(list(range(0, 100, 2))))  # even keys 0..98
    before = _files(group)
    result = group.insert(_rows(list(range(1, 100, 2))))  # odd keys: inside the stored key range
    assert isinstance(result, WriteResult)
    assert result.removed is None or result.removed.num_rows == 0
    assert (result.commit.rows_inserted, result.commit.rows_updated) == (50, 0)
    assert before < _files(group), "every stored file is kept; the batch is appended"
    summary = group.load().current_snapshot().summary
    assert summary is not None and summary.operation.value == "append"
    assert int(summary["deleted-data-files"] or 0) == 0
    # the same keys at a new event time are new pairs too
    result = group.insert(_rows([0, 1, 2], days=2))
    assert result.removed is None and result.commit.rows_inserted == 3


def test_update_rewrites_only_files_holding_the_keys(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_rows(list(range(0, 100, 2))))  # file A: even keys
    a = _files(group)
    group.insert(_rows(list(range(1, 100, 2))))  # file B: odd keys (same key range as A)
    b = _files(group) - a
    group.insert(_rows(list(range(100, 200))))  # file C
    c = _files(group) - a - b
    result = group.insert(_rows([4, 10], value=100.0))  # both in A only
    after = _files(group)
    assert not a & after, "the file holding the keys was rewritten"
    assert b <= after and c <= after, "files whose statistics admit the keys but that do not hold them are kept"
    assert (result.commit.rows_inserted, result.commit.rows_updated) == (0, 2)
    assert result.removed is not None
    assert result.removed.table().select(["k", "v", "s"]).to_pylist() == [
        {"k": 4, "v": 5.0, "s": "r4"},
        {"k": 10, "v": 11.0, "s": "r10"},
    ]
    assert result.removed.table().schema.names == SCHEMA.names
    stored = {r["k"]: r["v"] for r in _read(group)}
    assert len(stored) == 200 and stored[4] == 104.0 and stored[10] == 110.0 and stored[6] == 7.0


def test_delete_reports_removed_rows_and_rewrites_only_their_files(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_rows([1, 2, 3], days=[1, 1, 1]))
    first = _files(group)
    group.insert(_rows([1, 5], days=[2, 2]))
    second = _files(group) - first
    result = group.delete_keys(pa.table({"k": pa.array([5], pa.int64())}))
    assert result is not None and result.commit.rows_deleted == 1
    assert first <= _files(group) and not second & _files(group)
    assert result.removed is not None and result.removed.table().column("k").to_pylist() == [5]
    # by key alone: every event time of key 1, in two files
    result = group.delete_keys(pa.table({"k": pa.array([1], pa.int64())}))
    assert result is not None and result.commit.rows_deleted == 2
    assert sorted(result.removed.table().column("ts").to_pylist()) == [day(1), day(2)]  # type: ignore[union-attr]
    assert [r["k"] for r in _read(group)] == [2, 3]
    assert group.delete_keys(pa.table({"k": pa.array([42], pa.int64())})) is None


def test_data_files_are_sorted_by_key_with_statistics(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_rows([9, 3, 7, 1, 5], days=[2, 1, 3, 1, 1]))
    group.insert(_rows([3, 8, 2], days=[1, 1, 1], value=50.0))  # rewrites the file holding (3, day 1)
    table = group.load()
    for path in _files(group):
        parquet = pq.ParquetFile(reader.local_path(path, table))
        rows = parquet.read().select(["k", "ts"]).to_pylist()
        assert rows == sorted(rows, key=lambda r: (r["k"], r["ts"])), path
        stats = parquet.metadata.row_group(0).column(0).statistics
        assert stats is not None and stats.has_min_max


def test_evolved_schema_takes_the_exact_path(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_rows([1, 2, 3]))
    with group.load().update_schema() as update:
        update.add_column("extra", StringType())
    batch = _rows([2, 4]).append_column("extra", pa.array(["x", "y"], pa.string()))
    result = group.insert(batch)
    assert (result.commit.rows_inserted, result.commit.rows_updated) == (1, 1)
    assert result.removed is not None and result.removed.table().column("k").to_pylist() == [2]
    assert result.removed.table().column("extra").to_pylist() == [None]
    assert [(r["k"], r["extra"]) for r in _read(group)] == [(1, None), (2, "x"), (3, None), (4, "y")]


# -- random histories against the model ------------------------------------------------
KEYS = st.integers(min_value=0, max_value=30)
DAYS = st.integers(min_value=1, max_value=3)


def _operations(has_event_time: bool) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    width = 2 if has_event_time else 1
    row = st.tuples(KEYS, DAYS, st.integers(-5, 5).map(float)) if has_event_time else st.tuples(KEYS, st.integers(-5, 5).map(float))
    insert = st.tuples(st.just("insert"), st.lists(row, min_size=1, max_size=12, unique_by=lambda r: r[:width]))
    by_key = st.lists(st.tuples(KEYS), min_size=1, max_size=4, unique=True)
    by_pair = st.lists(st.tuples(KEYS, DAYS), min_size=1, max_size=4, unique=True)
    delete = st.tuples(st.just("delete"), st.one_of(by_key, by_pair) if has_event_time else by_key)
    return st.lists(st.one_of(insert, insert, delete), min_size=1, max_size=10)


def _batch(rows: list[Row], has_event_time: bool) -> pa.Table:
    columns: dict[str, pa.Array] = {"k": pa.array([r[0] for r in rows], pa.int64())}
    if has_event_time:
        columns["ts"] = pa.array([day(r[1]) for r in rows], TS)
    columns["v"] = pa.array([r[-1] for r in rows], pa.float64())
    columns["s"] = pa.array([f"s{r[0]}" for r in rows], pa.string())
    return pa.table(columns)


def _as_rows(table: pa.Table | RemovedRows | None, has_event_time: bool) -> list[Row]:
    if table is None:
        return []
    if isinstance(table, RemovedRows):  # an insert's or delete's removed rows, read on demand
        table = table.table()
    out = []
    for r in table.to_pylist():
        out.append((r["k"], r["ts"].day, r["v"]) if has_event_time else (r["k"], r["v"]))
    return sorted(out)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(has_event_time=st.booleans(), data=st.data())
def test_random_histories_match_the_model(tmp_path_factory: pytest.TempPathFactory, has_event_time: bool, data: st.DataObject) -> None:
    operations = data.draw(_operations(has_event_time))
    group = _group(tmp_path_factory.mktemp("merge"), has_event_time)
    model = HistoryModel(has_event_time=has_event_time)
    for op in operations:
        before = dict(model.current)
        if op[0] == "insert":
            counts = model.insert(op[1])
            result = group.insert(_batch(op[1], has_event_time))
            replaced = sorted(before[model.key(r)] for r in op[1] if model.key(r) in before)
            assert (result.commit.rows_inserted, result.commit.rows_updated) == (counts.inserted, counts.updated)
            assert _as_rows(result.removed, has_event_time) == replaced
        else:
            keys = op[1]
            counts = model.delete(keys)
            names = ["k", "ts"][: len(keys[0])]
            key_table = pa.table(
                {n: pa.array([k[i] if n == "k" else day(k[i]) for k in keys], pa.int64() if n == "k" else TS) for i, n in enumerate(names)}
            )
            deleted = group.delete_keys(key_table)
            if counts is None:
                assert deleted is None
                continue
            assert deleted is not None and deleted.commit.rows_deleted == counts.deleted
            gone = sorted(r for k, r in before.items() if k not in model.current)
            assert _as_rows(deleted.removed, has_event_time) == gone
        stored = _read(group)
        expected = model.rows_at(model.last_commit)
        got = [((r["k"], r["ts"].day, r["v"]) if has_event_time else (r["k"], r["v"])) for r in stored]
        assert got == expected
