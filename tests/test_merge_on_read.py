"""Merge-on-read updates (offline/deletes.py): an update writes the new rows plus one Iceberg
position-delete file instead of rewriting data files. pyiceberg's own scan is the oracle for
what the files mean; lakebox's DuckDB reads, time travel, the change feed, rollback and
compaction must agree with it and with a plain-Python model of the history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model import HistoryModel, Row
from pyiceberg.manifest import DataFileContent, ManifestContent

from lakebox.offline import changes, deletes, reader
from lakebox.offline.removed import RemovedRows
from lakebox.offline.table import GroupTable, table_commits
from lakebox.offline.warehouse import Warehouse

SCHEMA = pa.schema([("k", pa.int64()), ("ts", TS), ("v", pa.float64()), ("s", pa.string())])


def _group(root: Path, event_time: bool = True, mode: str = deletes.MERGE_ON_READ) -> GroupTable:
    (root / "warehouse").mkdir()
    warehouse = Warehouse(root / "warehouse")
    schema = SCHEMA if event_time else SCHEMA.remove(1)
    warehouse.create("t", schema)
    (root / "locks").mkdir(exist_ok=True)
    group = GroupTable(warehouse, "t", ["k"], "ts" if event_time else None, root / "locks")
    group.load().transaction().set_properties({deletes.MODE_PROPERTY: mode}).commit_transaction()
    return group


def _batch(rows: list[Row], has_event_time: bool = True) -> pa.Table:
    columns: dict[str, pa.Array] = {"k": pa.array([r[0] for r in rows], pa.int64())}
    if has_event_time:
        columns["ts"] = pa.array([day(r[1]) for r in rows], TS)
    columns["v"] = pa.array([r[-1] for r in rows], pa.float64())
    columns["s"] = pa.array([f"s{r[0]}" for r in rows], pa.string())
    return pa.table(columns)


def _as_rows(table: pa.Table | RemovedRows | None, has_event_time: bool = True) -> list[Row]:
    if table is None:
        return []
    if isinstance(table, RemovedRows):  # an insert's or delete's removed rows, read on demand
        table = table.table()
    return sorted(((r["k"], r["ts"].day, r["v"]) if has_event_time else (r["k"], r["v"])) for r in table.to_pylist())


def _duckdb_rows(group: GroupTable, snapshot_id: int | None, has_event_time: bool = True) -> list[Row]:
    table = group.load()
    return _as_rows(
        reader.read(table, snapshot_id, reader.canonical_schema(table), order_by=list(group.keys)), has_event_time
    )


def _iceberg_rows(group: GroupTable, snapshot_id: int | None, has_event_time: bool = True) -> list[Row]:
    if snapshot_id is None:
        return []
    return _as_rows(group.load().scan(snapshot_id=snapshot_id).to_arrow(), has_event_time)


def _delete_files(group: GroupTable) -> list[Any]:
    table = group.load()
    snapshot = table.current_snapshot()
    return deletes.snapshot_delete_files(table, snapshot.snapshot_id if snapshot else None)


def test_update_writes_a_delete_file_and_rewrites_nothing(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(10)]))
    group.insert(_batch([(k, 1, float(k)) for k in range(10, 20)]))
    table = group.load()
    before = {t.file.file_path for t in reader.plan(table, table.current_snapshot().snapshot_id)}

    result = group.insert(_batch([(3, 1, -3.0), (15, 1, -15.0), (30, 1, -30.0)]))

    assert (result.commit.rows_updated, result.commit.rows_inserted) == (2, 1)
    assert _as_rows(result.removed) == [(3, 1, 3.0), (15, 1, 15.0)]
    table = group.load()
    snapshot = table.current_snapshot()
    tasks = reader.plan(table, snapshot.snapshot_id)
    assert before <= {t.file.file_path for t in tasks}  # no data file was removed
    (delete_file,) = _delete_files(group)
    assert delete_file.content == DataFileContent.POSITION_DELETES and delete_file.record_count == 2
    manifests = snapshot.manifests(table.io)
    assert any(m.content == ManifestContent.DELETES for m in manifests)
    expected = sorted(
        [(k, 1, float(k)) for k in range(20) if k not in (3, 15)] + [(3, 1, -3.0), (15, 1, -15.0), (30, 1, -30.0)]
    )
    assert _iceberg_rows(group, snapshot.snapshot_id) == expected  # pyiceberg applies the deletes
    assert _duckdb_rows(group, snapshot.snapshot_id) == expected


def test_copy_on_write_by_table_property(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(deletes.MODE_ENV, raising=False)
    group = _group(tmp_path, mode=deletes.COPY_ON_WRITE)
    group.insert(_batch([(k, 1, float(k)) for k in range(5)]))
    group.insert(_batch([(2, 1, -2.0)]))
    assert _delete_files(group) == []


def test_the_table_property_beats_the_environment_which_beats_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(tmp_path, mode=deletes.COPY_ON_WRITE)
    monkeypatch.setenv(deletes.MODE_ENV, deletes.MERGE_ON_READ)
    assert not deletes.merge_on_read(group.load())  # the property
    group.load().transaction().remove_properties(deletes.MODE_PROPERTY).commit_transaction()
    assert deletes.merge_on_read(group.load())  # the environment
    monkeypatch.delenv(deletes.MODE_ENV)
    assert deletes.merge_on_read(group.load()) == (deletes.DEFAULT_MODE == deletes.MERGE_ON_READ)


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    from lakebox.errors import StorageError

    group = _group(tmp_path, mode="sometimes")
    group.insert(_batch([(1, 1, 1.0)]))
    with pytest.raises(StorageError, match="update mode"):
        group.insert(_batch([(1, 1, 2.0)]))


def test_updating_a_key_twice_deletes_the_newest_row(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(5)]))
    group.insert(_batch([(2, 1, 20.0)]))
    result = group.insert(_batch([(2, 1, 200.0), (4, 1, 40.0)]))
    assert _as_rows(result.removed) == [(2, 1, 20.0), (4, 1, 4.0)]
    assert result.commit.rows_updated == 2
    snapshot = group.load().current_snapshot().snapshot_id
    expected = [(0, 1, 0.0), (1, 1, 1.0), (2, 1, 200.0), (3, 1, 3.0), (4, 1, 40.0)]
    assert _iceberg_rows(group, snapshot) == _duckdb_rows(group, snapshot) == expected


def test_compaction_folds_the_deletes_away(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(10)]))
    group.insert(_batch([(k, 1, -float(k)) for k in range(0, 10, 3)]))
    expected = _duckdb_rows(group, group.load().current_snapshot().snapshot_id)
    commit = group.compact()
    assert commit is not None and commit.kind == "compact"
    assert _delete_files(group) == []
    table = group.load()
    tasks = reader.plan(table, table.current_snapshot().snapshot_id)
    assert len(tasks) == 1 and not tasks[0].delete_files
    assert _duckdb_rows(group, commit.snapshot_id) == _iceberg_rows(group, commit.snapshot_id) == expected


def test_change_feed_shows_update_images(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(4)]))
    group.insert(_batch([(1, 1, -1.0), (9, 1, 9.0)]))
    table = group.load()
    commits = table_commits(table)
    feed = changes.read_changes(table, commits, 1, 2, ["k", "ts"], reader.canonical_schema(table))
    got = [(r["k"], r["v"], r[changes.CHANGE_TYPE]) for r in feed.to_pylist()]
    assert got == [(1, 1.0, changes.UPDATE_PRE), (1, -1.0, changes.UPDATE_POST), (9, 9.0, changes.INSERT)]


# -- random histories against the model ------------------------------------------------
KEYS = st.integers(min_value=0, max_value=30)
DAYS = st.integers(min_value=1, max_value=3)


def _operations(has_event_time: bool) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    width = 2 if has_event_time else 1
    row = (
        st.tuples(KEYS, DAYS, st.integers(-5, 5).map(float))
        if has_event_time
        else st.tuples(KEYS, st.integers(-5, 5).map(float))
    )
    insert = st.tuples(st.just("insert"), st.lists(row, min_size=1, max_size=12, unique_by=lambda r: r[:width]))
    delete = st.tuples(st.just("delete"), st.lists(st.tuples(KEYS), min_size=1, max_size=4, unique=True))
    rollback = st.tuples(st.just("rollback"), st.integers(min_value=0, max_value=20))
    compact = st.tuples(st.just("compact"))
    return st.lists(st.one_of(insert, insert, insert, delete, rollback, compact), min_size=1, max_size=10)


def _replay(feed: pa.Table, state: dict[Row, Row], has_event_time: bool) -> dict[Row, Row]:
    """Apply a change feed to a state: the feed of (a, b] turns the rows at a into those at b."""
    state = dict(state)
    for r in feed.to_pylist():
        row = (r["k"], r["ts"].day, r["v"]) if has_event_time else (r["k"], r["v"])
        key = row[:2] if has_event_time else row[:1]
        if r[changes.CHANGE_TYPE] in (changes.DELETE, changes.UPDATE_PRE):
            state.pop(key, None)
        else:
            state[key] = row
    return state


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(has_event_time=st.booleans(), data=st.data())
def test_random_histories_match_the_model(
    tmp_path_factory: pytest.TempPathFactory, has_event_time: bool, data: st.DataObject
) -> None:
    group = _group(tmp_path_factory.mktemp("mor"), has_event_time)
    model = HistoryModel(has_event_time=has_event_time)
    snapshots: list[int | None] = [None]  # snapshot of each model commit (model index -> snapshot)
    for op in data.draw(_operations(has_event_time)):
        before = dict(model.current)
        if op[0] == "insert":
            counts = model.insert(op[1])
            result = group.insert(_batch(op[1], has_event_time))
            replaced = sorted(before[model.key(r)] for r in op[1] if model.key(r) in before)
            assert (result.commit.rows_inserted, result.commit.rows_updated) == (counts.inserted, counts.updated)
            assert _as_rows(result.removed, has_event_time) == replaced
            snapshots.append(result.commit.snapshot_id)
        elif op[0] == "delete":
            counts_or_none = model.delete(op[1])
            deleted = group.delete_keys(pa.table({"k": pa.array([k[0] for k in op[1]], pa.int64())}))
            if counts_or_none is None:
                assert deleted is None
                continue
            assert deleted is not None and deleted.commit.rows_deleted == counts_or_none.deleted
            snapshots.append(deleted.commit.snapshot_id)
        elif op[0] == "rollback":
            if model.last_commit == 0:
                continue
            target = 1 + op[1] % model.last_commit
            model.rollback(target)
            target_snapshot = snapshots[target]
            assert target_snapshot is not None
            snapshots.append(group.rollback(target_snapshot).snapshot_id)
        else:
            commit = group.compact()
            if commit is None:
                continue
            model.compact()
            snapshots.append(commit.snapshot_id)
        expected = model.rows_at(model.last_commit)
        assert _duckdb_rows(group, snapshots[-1], has_event_time) == expected
        assert _iceberg_rows(group, snapshots[-1], has_event_time) == expected
    # time travel: every earlier commit reads as it was
    for index in range(1, model.last_commit + 1):
        expected = model.rows_at(index)
        assert _duckdb_rows(group, snapshots[index], has_event_time) == expected
    # the change feed of the whole history replays onto the empty group as the current rows
    table = group.load()
    commits = table_commits(table)
    if commits:
        keys = ["k", "ts"] if has_event_time else ["k"]
        feed = changes.read_changes(table, commits, None, commits[-1].commit_id, keys, reader.canonical_schema(table))
        assert sorted(_replay(feed, {}, has_event_time).values()) == model.rows_at(model.last_commit)


def _pin(group: GroupTable, snapshot_id: int) -> Any:
    from lakebox.query.refs import Pin

    table = group.load()
    tasks = reader.plan(table, snapshot_id)
    assert reader.duckdb_can_read_deleting(table, tasks)
    return Pin(
        snapshot_id,
        None,
        tuple(reader.local_path(t.file.file_path, table) for t in tasks),
        has_deletes=any(t.delete_files for t in tasks),
        deletes=reader.deleted_rows(table, tasks),
    )


def test_the_planner_reads_pins_with_deletes(tmp_path: Path) -> None:
    from lakebox.query import duck, incremental
    from lakebox.query.build import group_relation
    from lakebox.query.refs import GroupRef

    group = _group(tmp_path)
    first = group.insert(_batch([(k, 1, float(k)) for k in range(6)])).commit
    second = group.insert(_batch([(2, 1, -2.0), (4, 1, -4.0), (7, 1, 7.0)])).commit
    ref = GroupRef(1, "g", 1, "t", "lakebox.t", reader.canonical_schema(group.load()), ("k",), "ts")
    pin = _pin(group, second.snapshot_id)
    assert pin.has_deletes and pin.deletes is not None and pin.deletes.num_rows == 2
    con = duck.connect()
    try:
        duck.register(con, _with_pin(group_relation(ref), pin))
        rows = con.sql('SELECT * FROM "g_1" ORDER BY k').to_arrow_table()
    finally:
        con.close()
    expected = [(0, 1, 0.0), (1, 1, 1.0), (2, 1, -2.0), (3, 1, 3.0), (4, 1, -4.0), (5, 1, 5.0), (7, 1, 7.0)]
    assert _as_rows(rows) == expected
    # the incremental read between the two commits: the updated and the new rows only
    changed = incremental.read_incremental(ref, ["k", "v"], pin, _pin(group, first.snapshot_id))
    assert changed.to_pylist() == [{"k": 2, "v": -2.0}, {"k": 4, "v": -4.0}, {"k": 7, "v": 7.0}]


def _with_pin(relation: Any, pin: Any) -> Any:
    from dataclasses import replace

    return replace(relation, pin=pin)


def test_relocated_box_keeps_its_deletes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Delete files name data files by their recorded paths: relocation rewrites them too, so
    a plain pyiceberg catalog over the moved box reads the updated rows, not the old ones."""
    import shutil

    import pandas as pd
    from pyiceberg.catalog.sql import SqlCatalog

    import lakebox
    from lakebox.ops import relocate

    monkeypatch.setenv(deletes.MODE_ENV, deletes.MERGE_ON_READ)
    project = lakebox.connect(tmp_path / "a")
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    when = pd.Timestamp("2026-01-01", tz="UTC")
    fg.insert(pd.DataFrame({"k": [1, 2, 3], "ts": when, "v": [1, 2, 3]}))
    fg.insert(pd.DataFrame({"k": [2], "ts": when, "v": [20]}))  # a position delete of k=2's first row
    project.close()
    shutil.move(tmp_path / "a", tmp_path / "b")
    box = tmp_path / "b"
    relocate.relocate(box)
    table_name = next((box / "warehouse").glob("m_v1_*")).name
    info = relocate.describe_table(box, table_name)
    catalog = SqlCatalog(info["catalog_name"], uri=info["catalog_uri"], warehouse=info["warehouse"])
    try:
        table = catalog.load_table(info["identifier"])
        assert sorted(table.scan().to_arrow().column("v").to_pylist()) == [1, 3, 20]
        assert all(d.file_path.startswith(box.as_uri()) for t in table.scan().plan_files() for d in t.delete_files)
    finally:
        catalog.engine.dispose()
    moved = lakebox.connect(box)
    assert moved.get_feature_store().get_feature_group("m").read()["v"].tolist() == [1, 20, 3]
    moved.close()


def test_a_compaction_planned_before_an_update_is_stale(tmp_path: Path) -> None:
    """A merge-on-read update committed between a compaction's plan and its commit deletes
    rows of the compaction's input files: committing the plan would bring them back."""
    from lakebox.offline import maintenance

    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(6)]))
    group.insert(_batch([(k, 1, float(k)) for k in range(6, 12)]))
    plan = maintenance._plan_compact(group, 5_000_000, None)
    assert plan is not None
    group.insert(_batch([(2, 1, -2.0)]))  # a position delete in one of the planned input files
    with pytest.raises(maintenance._Stale, match="deleted rows"):
        group.commit(lambda table, snapshot: maintenance._recheck(group, plan, table, snapshot))
    # compact() itself plans again and keeps the update
    assert group.compact() is not None
    snapshot = group.load().current_snapshot().snapshot_id
    assert (2, 1, -2.0) in _duckdb_rows(group, snapshot) and (2, 1, 2.0) not in _iceberg_rows(group, snapshot)


def test_delete_by_key_writes_a_delete_file(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, d, float(k)) for k in range(5) for d in (1, 2)]))
    files = {t.file.file_path for t in reader.plan(group.load(), group.load().current_snapshot().snapshot_id)}
    result = group.delete_keys(pa.table({"k": pa.array([1, 3], pa.int64())}))  # every event time of keys 1 and 3
    assert result is not None and result.commit.rows_deleted == 4
    assert _as_rows(result.removed) == [(1, 1, 1.0), (1, 2, 1.0), (3, 1, 3.0), (3, 2, 3.0)]
    table = group.load()
    snapshot = table.current_snapshot().snapshot_id
    assert {t.file.file_path for t in reader.plan(table, snapshot)} == files  # nothing rewritten
    assert len(_delete_files(group)) == 1
    expected = [(k, d, float(k)) for k in (0, 2, 4) for d in (1, 2)]
    assert _duckdb_rows(group, snapshot) == _iceberg_rows(group, snapshot) == expected
    assert group.delete_keys(pa.table({"k": pa.array([1], pa.int64())})) is None  # already gone: no commit
    feed = changes.read_changes(table, table_commits(table), 1, 2, ["k", "ts"], reader.canonical_schema(table))
    assert [(r["k"], r[changes.CHANGE_TYPE]) for r in feed.to_pylist()] == [
        (1, "delete"),
        (1, "delete"),
        (3, "delete"),
        (3, "delete"),
    ]


def test_queries_over_a_merge_on_read_group_match_copy_on_write(fs: Any) -> None:
    """Point-in-time joins, fs.sql and incremental reads pin the Parquet files plus the deleted
    (file, row) pairs (no materialised copy) and return what a copy-on-write group returns."""
    import pandas as pd

    when = pd.Timestamp("2026-01-01", tz="UTC")
    batches = [
        pd.DataFrame({"k": range(8), "ts": when, "v": [float(k) for k in range(8)]}),
        pd.DataFrame({"k": [2, 5, 9], "ts": when, "v": [-2.0, -5.0, 9.0]}),  # two updates, one insert
        pd.DataFrame({"k": [5, 6], "ts": when + pd.Timedelta(days=1), "v": [50.0, 60.0]}),
    ]
    groups = {}
    for mode in (deletes.MERGE_ON_READ, deletes.COPY_ON_WRITE):
        name = mode.replace("-", "_")
        fg = fs.create_feature_group(name, 1, primary_key=["k"], event_time="ts")
        fg.insert(batches[0])
        fg._table.load().transaction().set_properties({deletes.MODE_PROPERTY: mode}).commit_transaction()
        for batch in batches[1:]:
            fg.insert(batch)
        fg.delete_records(pd.DataFrame({"k": [7]}))
        groups[mode] = fg
    mor, cow = groups[deletes.MERGE_ON_READ], groups[deletes.COPY_ON_WRITE]
    pin = mor._planner_pin()
    assert pin.has_deletes and pin.exact is None and pin.deletes is not None and pin.deletes.num_rows == 3
    assert not cow._planner_pin().has_deletes
    spine = pd.DataFrame({"k": [2, 5, 5, 7, 9, 11], "ts": [when, when, when + pd.Timedelta(days=2), when, when, when]})
    got = fs.get_features(["merge_on_read.v"], entity_df=spine)["v"].fillna(-1.0).tolist()
    expected = fs.get_features(["copy_on_write.v"], entity_df=spine)["v"].fillna(-1.0).tolist()
    assert got == expected == [-2.0, -5.0, 50.0, -1.0, 9.0, -1.0]  # k=7 deleted, k=11 never existed
    same = "SELECT k, ts, v FROM {} ORDER BY k, ts"
    assert fs.sql(same.format("merge_on_read_1")).equals(fs.sql(same.format("copy_on_write_1")))
    assert len(fs.sql(same.format("merge_on_read_1"))) == 10
    since = mor.as_of(wallclock_time=4, exclude_until=1).read().sort_values(["k", "ts"]).reset_index(drop=True)
    assert since.equals(
        cow.as_of(wallclock_time=4, exclude_until=1).read().sort_values(["k", "ts"]).reset_index(drop=True)
    )
    assert since["k"].tolist() == [2, 5, 5, 6, 9]


def test_delete_manifests_are_merged_as_they_accumulate(tmp_path: Path) -> None:
    group = _group(tmp_path)
    group.insert(_batch([(k, 1, float(k)) for k in range(40)]))
    for i in range(deletes.MERGE_DELETE_MANIFESTS + 3):
        group.insert(_batch([(i, 1, -float(i))]))  # one delete file (and manifest) per commit
    table = group.load()
    snapshot = table.current_snapshot()
    manifests = [m for m in snapshot.manifests(table.io) if m.content == ManifestContent.DELETES]
    assert len(manifests) < deletes.MERGE_DELETE_MANIFESTS
    assert len(_delete_files(group)) == deletes.MERGE_DELETE_MANIFESTS + 3
    n = deletes.MERGE_DELETE_MANIFESTS + 3
    expected = sorted([(k, 1, -float(k)) for k in range(n)] + [(k, 1, float(k)) for k in range(n, 40)])
    assert _iceberg_rows(group, snapshot.snapshot_id) == _duckdb_rows(group, snapshot.snapshot_id) == expected
    first_update = table_commits(table)[1].snapshot_id  # time travel still applies each delete by its sequence number
    assert _iceberg_rows(group, first_update) == sorted([(0, 1, -0.0)] + [(k, 1, float(k)) for k in range(1, 40)])


def test_piled_up_deletes_are_folded_by_a_compaction(fs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a commit whose deletes pass the thresholds, the write path compacts them away."""
    import pandas as pd

    monkeypatch.setenv(deletes.MODE_ENV, deletes.MERGE_ON_READ)
    monkeypatch.setattr(deletes, "FOLD_MIN_ROWS", 3)  # the share (10%) decides
    when = pd.Timestamp("2026-01-01", tz="UTC")
    fg = fs.create_feature_group("folded", 1, primary_key=["k"], event_time="ts")
    fg.insert(pd.DataFrame({"k": range(40), "ts": when, "v": [float(k) for k in range(40)]}))
    fg.insert(pd.DataFrame({"k": [1, 2], "ts": when, "v": [-1.0, -2.0]}))  # 2 deleted rows: kept
    assert fg._planner_pin().has_deletes and [c["kind"] for c in fg.commit_details().values()].count("compact") == 0
    fg.insert(pd.DataFrame({"k": [3, 4], "ts": when, "v": [-3.0, -4.0]}))  # 4 of 40 rows: folded
    kinds = [d["kind"] for _, d in sorted(fg.commit_details().items())]
    assert kinds == ["insert", "insert", "insert", "compact"]
    assert not fg._planner_pin().has_deletes
    assert fg.read()["v"].tolist()[:6] == [0.0, -1.0, -2.0, -3.0, -4.0, 5.0]
    monkeypatch.setattr(deletes, "FOLD_MIN_ROWS", 10**9)
    monkeypatch.setattr(deletes, "FOLD_FILES", 2)  # or when delete files pile up
    fg.insert(pd.DataFrame({"k": [5], "ts": when, "v": [-5.0]}))
    assert fg._planner_pin().has_deletes
    fg.insert(pd.DataFrame({"k": [6], "ts": when, "v": [-6.0]}))
    assert not fg._planner_pin().has_deletes and list(fg.commit_details().values())[0]["kind"] == "compact"
