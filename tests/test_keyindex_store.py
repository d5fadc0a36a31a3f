"""The key index on disk (offline/keystore.py, keyindex.py): a new process uses it without
reading the group's files; it is rebuilt, never trusted, when it is damaged, made by another
DuckDB, or belongs to a dropped table of the same name; and its rows are exactly the ones
DuckDB finds by reading the key columns (deletes.locate), whatever the history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from budget import examples
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakebox
from lakebox.offline import deletes, keyindex, keystore, reader
from lakebox.offline.table import GroupTable
from lakebox.offline.warehouse import Warehouse


def _group(root: Path) -> GroupTable:
    """A writer of table ``t`` as a new process would build it (its index read from disk)."""
    return GroupTable(Warehouse(root / "warehouse"), "t", ["k"], "ts", root / ".locks")


def _new_table(root: Path) -> GroupTable:
    (root / "warehouse").mkdir(exist_ok=True)
    (root / ".locks").mkdir(exist_ok=True)
    schema = pa.schema([("k", pa.int64()), ("ts", TS), ("v", pa.float64())])
    Warehouse(root / "warehouse").create("t", schema)
    return _group(root)


def _rows(keys: list[int], days: list[int], value: float) -> pa.Table:
    return pa.table(
        {
            "k": pa.array(keys, pa.int64()),
            "ts": pa.array([day(d) for d in days], TS),
            "v": pa.array([value] * len(keys), pa.float64()),
        }
    )


class _Reads:
    """Counts the data files the key index reads (a spy around the real reader)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files = 0
        real = keyindex._read_keys

        def counting(table: Any, paths: Any, key_schema: pa.Schema) -> Any:
            self.files += len(paths)
            return real(table, paths, key_schema)

        monkeypatch.setattr(keyindex, "_read_keys", counting)


def test_a_new_process_updates_without_reading_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _new_table(tmp_path)
    first.insert(_rows(list(range(1000)), [1] * 1000, 1.0))
    first.insert(_rows(list(range(1000, 2000)), [1] * 1000, 1.0))  # looks up: reads the first file once
    reads = _Reads(monkeypatch)
    later = _group(tmp_path)  # another process: nothing in memory
    commit = later.insert(_rows([5, 1500, 5000], [1, 1, 1], 2.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 2)
    deleted = later.delete_keys(_rows([6, 1600], [1, 1], 0.0).select(["k", "ts"]))
    assert deleted is not None and deleted.commit.rows_deleted == 2
    assert reads.files == 0
    again = _group(tmp_path).insert(_rows([5, 6], [1, 1], 3.0)).commit  # 5 updated again, 6 was deleted
    assert (again.rows_inserted, again.rows_updated) == (1, 1)
    assert reads.files == 0


def test_another_writers_commit_is_caught_up_by_reading_only_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _new_table(tmp_path)
    first.insert(_rows(list(range(100)), [1] * 100, 1.0))
    first.insert(_rows([1], [1], 1.0))
    folder = first.key_index.folder.path
    shutil.copytree(folder, tmp_path / "saved")
    first.insert(_rows(list(range(100, 200)), [1] * 100, 1.0))  # commits the saved index did not see
    first.delete_keys(_rows([3], [1], 0.0).select(["k", "ts"]))
    shutil.rmtree(folder)  # as if their writer had died after each Iceberg commit, before the index
    shutil.copytree(tmp_path / "saved", folder)
    reads = _Reads(monkeypatch)
    commit = _group(tmp_path).insert(_rows([3, 150, 4], [1, 1, 1], 2.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 2)  # 3 was deleted: its tombstone was caught up
    assert reads.files == 1  # the one data file the index had not seen


@pytest.mark.parametrize("damage", ["garbage state", "missing run", "truncated keys", "other duckdb", "other keys"])
def test_a_damaged_or_foreign_index_is_rebuilt_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    first = _new_table(tmp_path)
    first.insert(_rows(list(range(100)), [1] * 100, 1.0))
    first.insert(_rows(list(range(100, 200)), [1] * 100, 1.0))
    folder = first.key_index.folder.path
    state_path = folder / keystore.STATE
    state = json.loads(state_path.read_text())
    if damage == "garbage state":
        state_path.write_text("{not json")
    elif damage == "missing run":
        (folder / state["runs"][0][0]).unlink()
    elif damage == "truncated keys":
        name = next(iter(state["units"].values()))[0]
        (folder / name).write_bytes((folder / name).read_bytes()[:100])
    elif damage == "other duckdb":
        state_path.write_text(json.dumps({**state, "hash": "duckdb 0.0.1 hash()"}))
    else:
        state_path.write_text(json.dumps({**state, "keys": ["k"]}))
    reads = _Reads(monkeypatch)
    commit = _group(tmp_path).insert(_rows([5, 150, 500], [1, 1, 1], 2.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 2)
    if damage != "truncated keys":  # (a key copy is only opened when a lookup needs it)
        assert reads.files == 2  # rebuilt from both data files
    assert json.loads(state_path.read_text())["hash"] == state["hash"]


def test_a_group_dropped_and_created_again_does_not_inherit_the_old_index(tmp_path: Path) -> None:
    box = tmp_path / "box"
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", statistics=False)
        fg.insert(pa.table({"k": [1, 2], "ts": pa.array([day(1)] * 2, TS), "v": [1.0, 2.0]}).to_pandas())
        fg.insert(pa.table({"k": [2], "ts": pa.array([day(1)], TS), "v": [3.0]}).to_pandas())
        assert any((box / ".keyindex").iterdir())
        fg.delete()
        assert not any((box / ".keyindex").iterdir())  # dropped with its group
        again = fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", statistics=False)
        again.insert(pa.table({"k": [2], "ts": pa.array([day(1)], TS), "v": [4.0]}).to_pandas())
        assert again.read().to_dict("records") == [{"k": 2, "ts": day(1), "v": 4.0}]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "insert", "delete", "compact"]),
        st.lists(st.tuples(st.integers(0, 30), st.integers(1, 3)), min_size=1, max_size=12, unique=True),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=examples(dev=8, ci=40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, probe=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 3)), min_size=1, max_size=20, unique=True))
def test_the_rows_the_index_finds_are_the_rows_duckdb_finds(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, ops: list[Any], probe: list[Any]
) -> None:
    """Oracle: deletes.locate reads the key columns of every file and anti-joins the delete
    files; the index must name exactly the same (file, position) rows, from disk too."""
    monkeypatch.setenv(deletes.MODE_ENV, deletes.MERGE_ON_READ)
    root = tmp_path_factory.mktemp("oracle")
    writer = _new_table(root)
    for step, (kind, pairs) in enumerate(ops):
        keys, days = [p[0] for p in pairs], [p[1] for p in pairs]
        if kind == "insert":
            writer.insert(_rows(keys, days, float(step)))
        elif kind == "delete":
            writer.delete_keys(_rows(keys, days, 0.0).select(["k", "ts"]))
        else:
            writer.compact(target_rows=1000)
    table = writer.load()
    if table.current_snapshot() is None:
        return  # only deletes of nothing: no commit
    snapshot = table.current_snapshot().snapshot_id
    storage = table.schema().as_arrow()
    wanted = _rows([p[0] for p in probe], [p[1] for p in probe], 0.0).select(["k", "ts"])
    wanted = wanted.cast(pa.schema([storage.field("k"), storage.field("ts")]))
    expected, _ = deletes.locate(table, reader.plan(table, snapshot), wanted)
    for index in (writer.key_index, _group(root).key_index):  # this writer's, and one mirrored from disk
        found = index.lookup(table, snapshot, wanted)
        assert found is not None
        assert found.positions.to_pylist() == expected.cast(found.positions.schema).to_pylist()


@pytest.mark.parametrize("index", ["removed by relocate", "copied over after relocate"])
def test_a_copied_and_relocated_box_updates_its_own_files(tmp_path: Path, index: str) -> None:
    """Relocation rewrites every recorded path under the same snapshot: an index naming the
    old paths would delete rows of files the table no longer has (nothing, silently). The
    relocation removes it, and an index that names another location is not trusted."""
    from lakebox.ops.relocate import relocate

    with lakebox.connect(tmp_path / "a") as project:
        fg = project.get_feature_store().create_feature_group("g", 1, primary_key=["k"], statistics=False)
        fg.insert(pa.table({"k": list(range(20)), "v": [1.0] * 20}).to_pandas())
        fg.insert(pa.table({"k": [1], "v": [2.0]}).to_pandas())  # the index is on disk
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    relocate(tmp_path / "b")
    if index == "copied over after relocate":
        shutil.rmtree(tmp_path / "b" / ".keyindex", ignore_errors=True)
        shutil.copytree(tmp_path / "a" / ".keyindex", tmp_path / "b" / ".keyindex")
    with lakebox.connect(tmp_path / "b") as project:
        fg = project.get_feature_store().get_feature_group("g", 1)
        fg.delete_records(pa.table({"k": [1, 2]}).to_pandas())
        fg.insert(pa.table({"k": [3], "v": [3.0]}).to_pandas())
        stored = fg.read().sort_values("k")
        assert stored["k"].tolist() == [0, *range(3, 20)]
        assert stored.set_index("k").loc[3, "v"] == 3.0


def test_an_index_folder_that_cannot_be_written_only_costs_speed(tmp_path: Path) -> None:
    """The index is a cache: where its folder cannot be made (here a file is in the way),
    writes locate the slow way, by reading key columns, and stay exact."""
    first = _new_table(tmp_path)
    folder = first.key_index.folder.path
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    first.insert(_rows(list(range(100)), [1] * 100, 1.0))
    commit = first.insert(_rows([5, 150], [1, 1], 2.0)).commit
    assert (commit.rows_inserted, commit.rows_updated) == (1, 1)
    deleted = _group(tmp_path).delete_keys(_rows([6], [1], 0.0).select(["k", "ts"]))
    assert deleted is not None and deleted.commit.rows_deleted == 1
    assert folder.read_text() == "not a folder"
