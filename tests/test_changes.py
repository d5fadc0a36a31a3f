"""The change feed (issue 10): per commit, the rows it inserted, updated (pre and post image)
and deleted, checked against a model of the history built in Python from random
insert / update / delete / rollback / compaction sequences made through the public api."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from lakebox.errors import NotFoundError, ValidationError
from lakebox.offline import reader
from lakebox.offline.changes import _touched_files, read_changes

TS = pa.timestamp("us", tz="UTC")
State = dict[tuple[Any, ...], tuple[Any, ...]]


def _feed(fg: Any, after: int | None, upto: int) -> pa.Table:
    table = fg._table.load()
    keys = [*fg.primary_key, *([fg.event_time] if fg.event_time else [])]
    return read_changes(table, fg.commits(), after, upto, keys, reader.canonical_schema(table))


class Model:
    """A group's rows as ``{key: values}``, one state per commit id (commit 0: empty)."""

    def __init__(self, keys: list[str], values: list[str]) -> None:
        self.keys, self.values = keys, values
        self.states: dict[int, State] = {0: {}}

    def record(self, commit: Any, state: State) -> None:
        if commit is not None:
            self.states[commit.commit_id] = dict(state)

    def expected(self, before: State, after: State) -> set[tuple[Any, ...]]:
        changes = set()
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            if old is None:
                changes.add((key, new, "insert"))
            elif new is None:
                changes.add((key, old, "delete"))
            else:
                changes.add((key, old, "update_preimage"))
                changes.add((key, new, "update_postimage"))
        return changes

    def of_feed(self, feed: pa.Table) -> set[tuple[Any, ...]]:
        return {
            (tuple(r[k] for k in self.keys), tuple(r[v] for v in self.values), r["_change_type"])
            for r in feed.to_pylist()
        }

    def replay(self, state: State, feed: pa.Table) -> State:
        state = dict(state)
        rows = feed.to_pylist()
        for commit_id in sorted({r["_commit_id"] for r in rows}):
            batch = [r for r in rows if r["_commit_id"] == commit_id]
            for r in batch:
                if r["_change_type"] in ("delete", "update_preimage"):
                    state.pop(tuple(r[k] for k in self.keys))
            for r in batch:
                if r["_change_type"] in ("insert", "update_postimage"):
                    state[tuple(r[k] for k in self.keys)] = tuple(r[v] for v in self.values)
        return state


def _values(rng: random.Random) -> tuple[Any, ...]:
    return (
        rng.choice([None, round(rng.uniform(-5, 5), 2)]),
        rng.choice([None, "a", "b", "c,d", ""]),
        rng.choice([None, rng.randint(0, 3)]),
    )


def _table(keys: list[str], key_types: list[pa.DataType], rows: State) -> pa.Table:
    items = list(rows.items())
    columns = {name: pa.array([k[i] for k, _ in items], t) for i, (name, t) in enumerate(zip(keys, key_types, strict=True))}
    columns["f"] = pa.array([v[0] for _, v in items], pa.float64())
    columns["s"] = pa.array([v[1] for _, v in items], pa.string())
    columns["n"] = pa.array([v[2] for _, v in items], pa.int64())
    return pa.table(columns)


def _run_history(fg: Any, keys: list[str], key_types: list[pa.DataType], new_key: Any, seed: int, steps: int) -> Model:
    rng = random.Random(seed)
    model = Model(keys, ["f", "s", "n"])
    state: State = {}
    for _ in range(steps):
        op = rng.choices(["insert", "delete", "rollback", "compact"], weights=[6, 2, 1, 1])[0]
        if op == "insert" or not state:
            batch: State = {}
            for key in rng.sample(sorted(state), k=min(len(state), rng.randint(0, 4))):
                # an update, or a re-insert of identical values (no change to report)
                batch[key] = state[key] if rng.random() < 0.3 else _values(rng)
            for _ in range(rng.randint(0 if batch else 1, 5)):
                batch[new_key(rng)] = _values(rng)
            commit = fg.insert(_table(keys, key_types, batch))
            state.update(batch)
            model.record(commit, state)
        elif op == "delete":
            victims = rng.sample(sorted(state), k=rng.randint(1, min(3, len(state))))
            if len(keys) > 1 and rng.random() < 0.5:  # by primary key only: every event time of it
                pids = {v[0] for v in victims}
                doomed = {k for k in state if k[0] in pids}
                keys_table = pa.table({keys[0]: pa.array(sorted(pids), key_types[0])})
            else:
                doomed = set(victims)
                keys_table = pa.table(
                    {name: pa.array([v[i] for v in victims], t) for i, (name, t) in enumerate(zip(keys, key_types, strict=True))}
                )
            commit = fg.delete_records(keys_table)
            state = {k: v for k, v in state.items() if k not in doomed}
            model.record(commit, state)
        elif op == "rollback":
            target = rng.choice(sorted(model.states)[1:])
            commit = fg.rollback(target)
            state = dict(model.states[target])
            model.record(commit, state)
        else:
            model.record(fg.compact(), state)
    return model


def _check(fg: Any, model: Model) -> None:
    ids = sorted(model.states)
    assert ids == list(range(0, ids[-1] + 1))  # every commit modelled
    for commit_id in ids[1:]:
        feed = _feed(fg, commit_id - 1, commit_id)
        assert set(feed.column("_commit_id").to_pylist()) <= {commit_id}
        assert model.of_feed(feed) == model.expected(model.states[commit_id - 1], model.states[commit_id]), commit_id
        assert feed.num_rows == len(model.of_feed(feed))  # no row reported twice
    rng = random.Random(len(ids))
    for _ in range(6):
        a, b = sorted(rng.sample(ids, 2))
        assert model.replay(model.states[a], _feed(fg, a, b)) == model.states[b], (a, b)
    whole = _feed(fg, None, ids[-1])
    assert model.replay({}, whole) == model.states[ids[-1]]
    current = fg.read(dataframe_type="arrow").to_pylist()
    assert {tuple(r[k] for k in model.keys): tuple(r[v] for v in model.values) for r in current} == model.states[ids[-1]]


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_feed_matches_model_of_history_with_event_time(fs: Any, seed: int) -> None:
    fg = fs.create_feature_group("events", version=1, primary_key=["pid"], event_time="ts")
    days = [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    model = _run_history(fg, ["pid", "ts"], [pa.int64(), TS], lambda rng: (rng.randint(0, 15), rng.choice(days)), seed, 14)
    _check(fg, model)


@pytest.mark.parametrize("seed", [3, pytest.param(4, marks=pytest.mark.slow)])
def test_feed_matches_model_of_history_without_event_time(fs: Any, seed: int) -> None:
    fg = fs.create_feature_group("items", version=1, primary_key=["k"])
    model = _run_history(fg, ["k"], [pa.string()], lambda rng: (f"key-{rng.randint(0, 25)}",), seed, 14)
    _check(fg, model)


def test_feed_columns_order_and_empty_ranges(fs: Any) -> None:
    fg = fs.create_feature_group("items", version=1, primary_key=["k"])
    first = fg.insert(pa.table({"k": ["b", "a"], "f": [1.0, 2.0]}))
    second = fg.insert(pa.table({"k": ["a", "c"], "f": [3.0, 4.0]}))
    feed = _feed(fg, first.commit_id, second.commit_id)
    assert feed.schema.names == ["k", "f", "_change_type", "_commit_id", "_commit_time"]
    assert feed.schema.field("_commit_time").type == TS
    assert feed.to_pylist() == [
        {"k": "a", "f": 2.0, "_change_type": "update_preimage", "_commit_id": 2, "_commit_time": second.committed_on},
        {"k": "a", "f": 3.0, "_change_type": "update_postimage", "_commit_id": 2, "_commit_time": second.committed_on},
        {"k": "c", "f": 4.0, "_change_type": "insert", "_commit_id": 2, "_commit_time": second.committed_on},
    ]
    assert _feed(fg, 2, 2).num_rows == 0
    assert _feed(fg, None, 1).column("k").to_pylist() == ["a", "b"]  # ordered by key
    with pytest.raises(NotFoundError, match="Commit 3 does not exist"):
        _feed(fg, 1, 3)
    with pytest.raises(ValidationError):
        _feed(fg, 2, 1)


def test_compaction_and_identical_reinserts_change_nothing(fs: Any) -> None:
    fg = fs.create_feature_group("items", version=1, primary_key=["k"])
    for i in range(3):
        fg.insert(pa.table({"k": [f"k{i}"], "f": [float("nan") if i == 0 else 1.0]}))
    same = fg.insert(pa.table({"k": ["k0", "k1"], "f": [float("nan"), 1.0]}))  # rewrites files, same rows
    compacted = fg.compact()
    assert compacted is not None and compacted.kind == "compact"
    assert _feed(fg, same.commit_id - 1, compacted.commit_id).num_rows == 0


def test_a_commit_reads_only_the_files_it_touched(fs: Any) -> None:
    fg = fs.create_feature_group("items", version=1, primary_key=["k"])
    for i in range(8):
        fg.insert(pa.table({"k": [f"k{i}"], "f": [float(i)]}))
    update = fg.insert(pa.table({"k": ["k3"], "f": [30.0]}))
    table = fg._table.load()
    added, removed, deleting = _touched_files(table, table.snapshot_by_id(update.snapshot_id))
    # the batch, and k3's old file (no survivors to rewrite) or, merge-on-read, one delete file
    assert (len(added), len(removed) + len(deleting)) == (1, 1)
    last = fg.insert(pa.table({"k": ["new"], "f": [1.0]}))
    table = fg._table.load()
    added, removed, _ = _touched_files(table, table.snapshot_by_id(last.snapshot_id))
    assert (len(added), len(removed)) == (1, 0)


def test_expired_commits_raise_not_found(fs: Any) -> None:
    fg = fs.create_feature_group("items", version=1, primary_key=["k"])
    fg.insert(pa.table({"k": ["a"], "f": [1.0]}))
    fg.insert(pa.table({"k": ["a"], "f": [2.0]}))  # rewrites the file of commit 1
    last = fg.insert(pa.table({"k": ["b"], "f": [3.0]}))  # a plain append
    assert fg.expire_commits(keep_last=1) == [1, 2]
    with pytest.raises(NotFoundError, match="expired"):
        _feed(fg, None, last.commit_id)
    with pytest.raises(NotFoundError, match="expired"):
        _feed(fg, 1, 2)
    assert _feed(fg, 2, 3).to_pylist()[0]["k"] == "b"  # appends need no earlier state
