"""The persistent key index (offline/keyindex.py): batches find the stored rows of their
(key, event time) pairs without reading the group, and never miss one — for every key type,
when the index was built from the rows a writer wrote, from the Parquet files, or had to
catch up with another writer's commits. Its on-disk form is tested in test_keyindex_store.py."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from budget import examples
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model import HistoryModel

from lakebox.offline import deletes, keystore, reader
from lakebox.offline.table import GroupTable
from lakebox.offline.warehouse import Warehouse


@pytest.fixture(autouse=True)
def _copy_on_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about copy-on-write merges (files rewritten without the replaced rows)
    and the key index under them; merge-on-read updates are tested in test_merge_on_read.py."""
    monkeypatch.setenv(deletes.MODE_ENV, deletes.COPY_ON_WRITE)


KEY_TYPES: dict[str, tuple[pa.DataType, Any]] = {
    "int32": (pa.int32(), lambda i: i),
    "int64": (pa.int64(), lambda i: i * 1_000_003),
    "string": (pa.large_string(), lambda i: f"key-{i}-é"),
    "date": (pa.date32(), lambda i: dt.date(2020, 1, 1) + dt.timedelta(days=i)),
    "timestamp": (pa.timestamp("us"), lambda i: dt.datetime(2020, 1, 1) + dt.timedelta(seconds=i)),
    "binary": (pa.large_binary(), lambda i: i.to_bytes(4, "big")),
}


INT64 = pa.int64()


def _writers(root: Path, key_type: pa.DataType = INT64, count: int = 2) -> list[GroupTable]:
    """``count`` independent writers of one table, as separate processes would hold them."""
    (root / "warehouse").mkdir()
    (root / "locks").mkdir()
    schema = pa.schema([("k", key_type), ("ts", TS), ("v", pa.float64())])
    Warehouse(root / "warehouse").create("t", schema)
    return [GroupTable(Warehouse(root / "warehouse"), "t", ["k"], "ts", root / "locks") for _ in range(count)]


def _rows(keys: list[Any], key_type: pa.DataType, days: list[int], value: float) -> pa.Table:
    return pa.table(
        {
            "k": pa.array(keys, key_type),
            "ts": pa.array([day(d) for d in days], TS),
            "v": pa.array([value] * len(keys), pa.float64()),
        }
    )


@pytest.mark.parametrize("name", sorted(KEY_TYPES))
def test_every_key_type_is_found_by_the_index(tmp_path: Path, name: str) -> None:
    key_type, make = KEY_TYPES[name]
    first, second = _writers(tmp_path, key_type)
    keys = [make(i) for i in range(40)]
    first.insert(_rows(keys, key_type, [1] * 40, 1.0))
    first.insert(_rows(keys[:1], key_type, [1], 1.0))  # a lookup: the first write is read from its file

    # the same writer (hashes of the rows it wrote) and a fresh one (hashes read from Parquet)
    again = first.insert(_rows(keys[:10], key_type, [1] * 10, 2.0)).commit
    assert (again.rows_inserted, again.rows_updated) == (0, 10)
    fresh = second.insert(_rows(keys[10:20], key_type, [1] * 10, 3.0)).commit
    assert (fresh.rows_inserted, fresh.rows_updated) == (0, 10)
    # a new event time of a stored key is a new row
    later = first.insert(_rows(keys[20:25], key_type, [2] * 5, 4.0)).commit
    assert (later.rows_inserted, later.rows_updated) == (5, 0)
    deleted = second.delete_keys(_rows(keys[30:33], key_type, [1] * 3, 0.0).select(["k", "ts"]))
    assert deleted is not None and deleted.commit.rows_deleted == 3

    table = first.load()
    stored = reader.arrow_scan(
        table, reader.plan(table, table.current_snapshot().snapshot_id), table.current_snapshot().snapshot_id
    )
    assert stored.num_rows == 40 + 5 - 3
    values = {(r["k"], r["ts"].day): r["v"] for r in stored.to_pylist()}
    assert [values[(k, 1)] for k in keys[:20]] == [2.0] * 10 + [3.0] * 10


def _key_table(table: Any, keys: list[int], days: list[int]) -> pa.Table:
    storage = table.schema().as_arrow()
    key_schema = pa.schema([storage.field("k"), storage.field("ts")])
    return _rows(keys, INT64, days, 0.0).select(["k", "ts"]).cast(key_schema)


def test_new_keys_touch_no_file_and_stored_ones_give_their_row(tmp_path: Path) -> None:
    (writer,) = _writers(tmp_path, count=1)
    writer.insert(_rows(list(range(1000)), pa.int64(), [1] * 1000, 1.0))
    table = writer.load()
    snapshot = table.current_snapshot().snapshot_id
    fresh = writer.key_index.lookup(table, snapshot, _key_table(table, list(range(5000, 5100)), [1] * 100))
    assert fresh is not None and fresh.paths == set() and fresh.positions.num_rows == 0
    other_day = writer.key_index.lookup(table, snapshot, _key_table(table, [7], [2]))
    assert other_day is not None and other_day.positions.num_rows == 0
    found = writer.key_index.lookup(table, snapshot, _key_table(table, [7, 998], [1, 1]))
    assert found is not None and len(found.paths) == 1
    (path,) = found.paths
    stored = pq.read_table(reader.local_path(path, table)).column("k").to_pylist()
    assert [stored[p] for p in found.positions.column("pos").to_pylist()] == [7, 998]


KEYS = st.integers(0, 12)
DAYS = st.integers(1, 3)


@settings(
    max_examples=examples(dev=5, ci=30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_two_writers_sharing_one_index_match_the_model(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    """Writers (two processes' worth of objects over one box) interleave commits, delete,
    compact and roll back, in either update mode; the index is lost or falls behind (a
    writer that died between its Iceberg commit and the index). The group always equals the
    model of its history, and every commit's counts match the model's."""
    monkeypatch.setenv(deletes.MODE_ENV, data.draw(st.sampled_from([deletes.COPY_ON_WRITE, deletes.MERGE_ON_READ])))
    root = tmp_path_factory.mktemp("keyindex")
    writers = _writers(root)
    folder = writers[0].key_index.folder.path
    saved: Path | None = None
    model = HistoryModel(has_event_time=True)
    row = st.tuples(KEYS, DAYS, st.integers(-5, 5).map(float))
    ops = ["insert", "insert", "insert", "delete", "compact", "rollback", "lose", "save", "rewind"]
    for step in range(data.draw(st.integers(1, 10), label="steps")):
        writer = writers[data.draw(st.integers(0, 1), label=f"writer {step}")]
        kind = data.draw(st.sampled_from(ops), label=f"op {step}")
        if kind == "insert":
            rows = data.draw(st.lists(row, min_size=1, max_size=10, unique_by=lambda r: r[:2]), label=f"rows {step}")
            counts = model.insert(rows)
            commit = writer.insert(
                _rows([r[0] for r in rows], pa.int64(), [r[1] for r in rows], 0.0).set_column(
                    2, "v", pa.array([r[2] for r in rows], pa.float64())
                )
            ).commit
            assert (commit.rows_inserted, commit.rows_updated) == (counts.inserted, counts.updated)
        elif kind == "delete":
            pairs = data.draw(
                st.lists(st.tuples(KEYS, DAYS), min_size=1, max_size=4, unique=True), label=f"keys {step}"
            )
            counts = model.delete(pairs)
            result = writer.delete_keys(
                _rows([p[0] for p in pairs], pa.int64(), [p[1] for p in pairs], 0.0).select(["k", "ts"])
            )
            assert (result is None) == (counts is None)
            assert result is None or counts is None or result.commit.rows_deleted == counts.deleted
        elif kind == "compact":
            if writer.compact(target_rows=1000) is not None:
                model.compact()
        elif kind == "lose":
            shutil.rmtree(folder, ignore_errors=True)
        elif kind == "save":
            saved = root / f"saved-{step}"
            if folder.exists():
                shutil.copytree(folder, saved)
            else:
                saved.mkdir()  # no index yet: rewinding removes it
        elif kind == "rewind" and saved is not None:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(saved, folder)
        elif kind == "rollback" and model.last_commit > 1:
            target = data.draw(st.integers(1, model.last_commit - 1), label=f"target {step}")
            table = writer.load()
            snapshots = [s for s in table.metadata.snapshots if s.summary and s.summary["lakebox.commit-id"]]
            by_commit = {int(s.summary["lakebox.commit-id"]): s.snapshot_id for s in snapshots}
            writer.rollback(by_commit[target])
            model.rollback(target)
        table = writer.load()
        current = table.current_snapshot()
        got = (
            []
            if current is None
            else sorted(
                (r["k"], r["ts"].day, r["v"])
                for r in reader.arrow_scan(
                    table, reader.plan(table, current.snapshot_id), current.snapshot_id
                ).to_pylist()
            )
        )
        assert got == model.rows_at(model.last_commit)
    for writer in writers:
        writer.key_index.settle()
    _assert_only_named_files(folder)


def _assert_only_named_files(folder: Path) -> None:
    """Every file of the index folder is named by its state: nothing is left behind by
    prepared entries of commits that did not land, merges, purges or discarded indexes."""
    if not (folder / keystore.STATE).exists():
        return
    state = json.loads((folder / keystore.STATE).read_text())
    named = {keystore.STATE, *(u[0] for u in state["units"].values()), *(r[0] for r in state["runs"])}
    named |= {g[0] for g in state["gone"]}
    assert {p.name for p in folder.iterdir()} == named


def test_a_first_load_is_indexed_from_its_files_when_a_batch_needs_it(tmp_path: Path) -> None:
    (writer,) = _writers(tmp_path, count=1)
    rows = 50_000
    writer.insert(_rows(list(range(rows)), pa.int64(), [1] * rows, 1.0))
    index = writer.key_index
    assert index.known and index.unread and not index.runs  # nothing to look up, so not hashed at commit
    commit = writer.insert(_rows([3, rows - 1, rows + 10], pa.int64(), [1, 1, 1], 2.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 2)
    # read once from the file; the rewritten file and the batch are indexed from their rows
    assert not index.unread and index.entries >= 2 * rows - 2
    commit = writer.insert(_rows([4, rows + 10], pa.int64(), [1, 1], 3.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (0, 2)


def test_runs_stay_few_and_dead_entries_go(tmp_path: Path) -> None:
    """Every write adds a run; runs merge so that there are O(log writes) of them, and the
    entries of files a rewrite removed are dropped once they outnumber the live ones."""
    (writer,) = _writers(tmp_path, count=1)
    writer.insert(_rows(list(range(0, 200)), pa.int64(), [1] * 200, 0.0))
    for i in range(1, 41):
        writer.insert(_rows(list(range(i * 200, (i + 1) * 200)), pa.int64(), [1] * 200, float(i)))
    index = writer.key_index
    index.settle()  # runs are merged in the background
    assert 1 <= len(index.runs) <= 8
    every = list(range(0, 41 * 200, 37))
    commit = writer.insert(_rows(every, pa.int64(), [1] * len(every), -1.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (0, len(every))
    assert writer.compact(target_rows=100_000) is not None  # re-adds nothing: every old file is removed
    commit = writer.insert(_rows([5, 41 * 200 + 5], pa.int64(), [1, 1], 9.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 1)
    assert index.entries <= 2 * index.rows + 2 * 200


def test_a_hash_held_by_several_units_names_every_entry() -> None:
    from lakebox.offline.keyruns import Run, merged

    older = Run(np.array([1, 5, 9], np.uint64), np.zeros(3, np.int32), np.array([0, 1, 2], np.int32))
    newer = Run(np.array([5, 7], np.uint64), np.ones(2, np.int32), np.array([0, 1], np.int32))
    both = merged([older, newer])
    assert both.hashes.tolist() == [1, 5, 5, 7, 9]
    assert list(zip(both.units.tolist(), both.rows.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]
    many = np.array([0, 2, 5, 8, 10, 11], np.uint64)  # more needles than entries, and fewer
    assert sorted(both.units[both.matches(many)].tolist()) == [0, 1]
    assert sorted(both.units[both.matches(np.array([5], np.uint64))].tolist()) == [0, 1]
    assert both.matches(np.array([6], np.uint64)).tolist() == []


def test_an_index_read_from_many_files_at_once_finds_each_pair_in_its_own_file(tmp_path: Path) -> None:
    """An index rebuilt from disk reads every data file's keys into one run (one unit per
    file): each stored pair must lead to exactly the file and row that hold it."""
    first, second = _writers(tmp_path)
    for batch in range(6):  # six commits, one file each
        keys = list(range(batch * 100, batch * 100 + 100))
        first.insert(_rows(keys, INT64, [1] * 100, float(batch)))
    second.key_index.forget()  # nothing on disk: the next lookup reads the files
    table = second.load()
    snapshot = table.current_snapshot().snapshot_id
    assert len(reader.plan(table, snapshot)) == 6
    for batch in range(6):
        found = second.key_index.lookup(table, snapshot, _key_table(table, [batch * 100 + 42], [1]))
        assert found is not None and len(found.paths) == 1
        (path,) = found.paths
        stored = pq.read_table(reader.local_path(path, table)).column("k").to_pylist()
        assert stored[found.positions.column("pos")[0].as_py()] == batch * 100 + 42
    assert len(second.key_index.runs) == 1 and len(set(second.key_index.runs[0].units.tolist())) == 6


def test_a_group_past_the_index_limit_locates_by_reading_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``max_rows()`` (LAKEBOX_KEY_INDEX_MAX_ROWS, default 1/8 of the memory) the index
    declines and updates still find their rows; a limit that is not a number is refused by
    name before anything is written."""
    from lakebox.errors import ValidationError
    from lakebox.offline import keyindex

    monkeypatch.setenv("LAKEBOX_KEY_INDEX_MAX_ROWS", "50")
    keyindex.max_rows.cache_clear()
    try:
        (writer,) = _writers(tmp_path, count=1)
        writer.insert(_rows(list(range(100)), INT64, [1] * 100, 1.0))
        commit = writer.insert(_rows([5, 500], INT64, [1, 1], 2.0)).commit
        assert (commit.rows_inserted, commit.rows_updated) == (1, 1)
        table = writer.load()
        keys = (
            _rows([5], INT64, [1], 0.0)
            .select(["k", "ts"])
            .cast(pa.schema([table.schema().as_arrow().field("k"), table.schema().as_arrow().field("ts")]))
        )
        assert writer.key_index.lookup(table, table.current_snapshot().snapshot_id, keys) is None
        monkeypatch.setenv("LAKEBOX_KEY_INDEX_MAX_ROWS", "lots")
        keyindex.max_rows.cache_clear()
        other = GroupTable(Warehouse(tmp_path / "warehouse"), "t", ["k"], "ts", tmp_path / "locks")  # another process
        before = table.current_snapshot().snapshot_id
        with pytest.raises(ValidationError, match="LAKEBOX_KEY_INDEX_MAX_ROWS"):
            other.insert(_rows([6], INT64, [1], 3.0))
        assert other.load().current_snapshot().snapshot_id == before
    finally:
        keyindex.max_rows.cache_clear()
