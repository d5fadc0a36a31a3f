"""The write coordinator (lakebox/write): one engine bundle per box per process, and the
truth about a commit when a store after Iceberg fails (DESIGN §2, issue 10).

Failures are injected by replacing one step of the coordinator with a function that raises
(the stores themselves are real); kills of a writer mid-commit are in test_crash.py and
test_online_crash.py.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakebox
from lakebox import engines
from lakebox.catalog.groups import GroupStore
from lakebox.errors import OnlineBehindError, StorageError
from lakebox.write.online import OnlineMirror


def _rows(ids: list[int], value: float, day: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ids,
            "ts": pd.to_datetime([f"2026-01-{day:02d}"] * len(ids), utc=True),
            "age": [value + i for i in range(len(ids))],
        }
    )


def _group(project: Any, online: bool = True) -> Any:
    fs = project.get_feature_store()
    return fs.get_or_create_feature_group("players", 1, primary_key=["pid"], event_time="ts", online_enabled=online)


def _online(fg: Any) -> list[dict[str, Any]]:
    return fg.read(online=True).to_dict("records")


def _latest_offline(fg: Any) -> list[dict[str, Any]]:
    rows = fg.read().sort_values(["pid", "ts"]).groupby("pid").tail(1).reset_index(drop=True)
    return rows.to_dict("records")


# -- one engine bundle per box per process -------------------------------------------------
def test_two_connections_in_one_process_share_the_engines(box_path: Path) -> None:
    first = lakebox.connect(box_path)
    second = lakebox.connect(box_path)
    assert first.engines is second.engines
    assert engines.open_count(box_path.resolve()) == 2
    a, b = _group(first), _group(second)
    a.insert(_rows([1, 2], 10.0))
    commit = b.insert(_rows([2, 3], 20.0, day=2))  # the second connection commits and mirrors
    assert commit.commit_id == 2
    assert [r["pid"] for r in _online(a)] == [1, 2, 3]
    assert _online(a) == _online(b) == _latest_offline(a)
    first.close()
    first.close()  # idempotent: gives back one reference only
    assert engines.open_count(box_path.resolve()) == 1
    b.insert(_rows([4], 40.0, day=3))  # the survivor still writes online
    assert [r["pid"] for r in _online(b)] == [1, 2, 3, 4]
    second.close()
    assert engines.open_count(box_path.resolve()) == 0


def test_a_dropped_project_releases_its_engines_when_collected(box_path: Path) -> None:
    kept = lakebox.connect(box_path)
    dropped = lakebox.connect(box_path)
    _group(dropped).insert(_rows([1], 1.0))
    lakebox.connect(box_path)  # becomes the current project, so `dropped` has no other owner
    del dropped
    gc.collect()
    assert engines.open_count(box_path.resolve()) == 2  # kept + the current project
    fg = _group(kept)
    fg.insert(_rows([2], 2.0, day=2))
    assert [r["pid"] for r in _online(fg)] == [1, 2]
    kept.close()


def test_reopening_after_every_project_closed_works(box_path: Path) -> None:
    project = lakebox.connect(box_path)
    _group(project).insert(_rows([1], 1.0))
    project.close()
    assert engines.open_count(box_path.resolve()) == 0
    again = lakebox.connect(box_path)
    fg = _group(again)
    fg.insert(_rows([2], 2.0, day=2))
    assert [r["pid"] for r in _online(fg)] == [1, 2]
    again.close()


def _child_inserts(path: str, queue: Any) -> None:
    try:
        project = lakebox.connect(path)  # shares the inherited bundle; engines reopen after fork
        fg = _group(project)
        commit = fg.insert(_rows([7], 70.0, day=5))
        queue.put(("ok", commit.commit_id, [r["pid"] for r in _online(fg)]))
    except BaseException as e:  # report, so the parent's assertion shows the cause
        queue.put(("error", repr(e), []))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_writes_through_its_own_engines(box_path: Path) -> None:
    project = lakebox.connect(box_path)
    fg = _group(project)
    fg.insert(_rows([1], 1.0))
    assert _online(fg)  # the parent's LMDB environment is open before the fork
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_inserts, args=(str(box_path), queue))
    child.start()
    status, commit_id, online_keys = queue.get(timeout=120)
    child.join(timeout=60)
    assert status == "ok", commit_id
    assert commit_id == 2 and online_keys == [1, 7]
    assert child.exitcode == 0
    assert [r["pid"] for r in _online(fg)] == [1, 7]  # the parent sees the child's commit
    project.close()


# -- the truth about a commit when a later step fails --------------------------------------
def test_online_failure_repaired_on_the_spot_reports_the_commit(project: Any, monkeypatch: Any) -> None:
    fg = _group(project)
    fg.insert(_rows([1, 2], 10.0))

    def fail(*args: Any, **kwargs: Any) -> None:
        raise StorageError("injected: the online write failed")

    monkeypatch.setattr(OnlineMirror, "apply", fail)  # the delta fails; the rebuild still works
    commit = fg.insert(_rows([2, 3], 20.0, day=2))
    assert commit.commit_id == 2
    assert fg.online_lag() == 0
    assert _online(fg) == _latest_offline(fg)


def test_online_failure_that_cannot_be_repaired_raises_with_the_commit(project: Any, monkeypatch: Any) -> None:
    fg = _group(project)
    fg.insert(_rows([1, 2], 10.0))

    def fail(*args: Any, **kwargs: Any) -> None:
        raise StorageError("injected: the online store is unwritable")

    with monkeypatch.context() as patch:
        patch.setattr(OnlineMirror, "apply", fail)
        patch.setattr(OnlineMirror, "rebuild", fail)
        with pytest.raises(OnlineBehindError) as raised:
            fg.insert(_rows([2, 3], 20.0, day=2))
        assert raised.value.commit.commit_id == 2  # the caller learns what was committed
        assert "is written" in str(raised.value) and "rebuild" in str(raised.value)
        assert [c.commit_id for c in fg.commits()] == [1, 2]  # durable, and in the commit log
        assert fg.online_lag() == 1
    # the failure is gone: the next online read catches up to exactly the offline data
    assert _online(fg) == _latest_offline(fg)
    assert fg.online_lag() == 0
    assert fg.insert(_rows([4], 40.0, day=3)).commit_id == 3
    assert _online(fg) == _latest_offline(fg)


def test_delete_and_rollback_report_online_failures_too(project: Any, monkeypatch: Any) -> None:
    fg = _group(project)
    first = fg.insert(_rows([1, 2, 3], 10.0))
    fg.insert(_rows([3], 30.0, day=2))

    def fail(*args: Any, **kwargs: Any) -> None:
        raise StorageError("injected")

    with monkeypatch.context() as patch:
        patch.setattr(OnlineMirror, "apply", fail)
        patch.setattr(OnlineMirror, "rebuild", fail)
        with pytest.raises(OnlineBehindError) as deleted:
            fg.delete_records(pd.DataFrame({"pid": [1]}))
        assert deleted.value.commit.kind == "delete"
        with pytest.raises(OnlineBehindError) as rolled:
            fg.rollback(first.commit_id)
        assert rolled.value.commit.kind == "rollback"
    assert _online(fg) == _latest_offline(fg)
    assert sorted(r["pid"] for r in _online(fg)) == [1, 2, 3]


def test_a_commit_log_failure_is_repaired_from_iceberg(project: Any, monkeypatch: Any) -> None:
    fg = _group(project, online=False)
    fg.insert(_rows([1], 1.0))

    def fail(*args: Any, **kwargs: Any) -> None:
        raise StorageError("injected: catalog busy")

    with monkeypatch.context() as patch:
        patch.setattr(GroupStore, "record_commits", fail)
        commit = fg.insert(_rows([2], 2.0, day=2))  # durable in Iceberg: reported as committed
    assert commit.commit_id == 2
    assert [c.commit_id for c in fg.commits()] == [1, 2]  # completed from Iceberg on read
    assert len(fg.read()) == 2
    fg.insert(_rows([3], 3.0, day=3))
    assert [c.commit_id for c in project.engines.groups.commits(fg.id)] == [1, 2, 3]  # the log is whole


def test_reads_never_write_the_commit_log(project: Any, monkeypatch: Any) -> None:
    fg = _group(project, online=False)
    fg.insert(_rows([1], 1.0))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a read wrote to the catalog")

    monkeypatch.setattr(GroupStore, "record_commits", refuse)
    monkeypatch.setattr(GroupStore, "mark_expired", refuse)
    fg.commits()
    fg.commit_details()
    fg.read(wallclock_time=1)


# -- property: whatever fails after the commit, the stores converge on the truth ----------
FAULTS = st.sampled_from(["none", "delta", "delta+rebuild", "log"])
OPS = st.one_of(
    st.tuples(st.just("insert"), st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4)), min_size=1, max_size=5,
                                          unique=True), FAULTS),
    st.tuples(st.just("delete"), st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True), FAULTS),
    st.tuples(st.just("rollback"), st.integers(1, 12), FAULTS),
)


@contextmanager
def _faults(kind: str) -> Iterator[None]:
    """Make the named steps after the Iceberg commit raise, then restore them."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise StorageError(f"injected fault: {kind}")

    targets = {
        "none": [],
        "delta": [(OnlineMirror, "apply")],
        "delta+rebuild": [(OnlineMirror, "apply"), (OnlineMirror, "rebuild")],
        "log": [(GroupStore, "record_commits")],
    }[kind]
    saved = [(owner, name, owner.__dict__[name]) for owner, name in targets]
    for owner, name, _ in saved:
        setattr(owner, name, fail)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@settings(max_examples=examples(dev=5, ci=30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=7))
def test_stores_converge_on_the_committed_truth_whatever_fails(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "b.lakebox") as project:
        fg = _group(project)
        commits = 0
        expected: dict[tuple[int, int], float] = {}  # (pid, day) -> age: the offline truth
        history: list[dict[tuple[int, int], float]] = [{}]
        for op, arg, fault in ops:
            if op == "insert":
                frame = pd.DataFrame({
                    "pid": [k for k, _ in arg],
                    "ts": pd.to_datetime([f"2026-01-{d:02d}" for _, d in arg], utc=True),
                    "age": [float(k * 10 + d) + commits for k, d in arg],
                })
                action = lambda frame=frame: fg.insert(frame)  # noqa: E731
                after = {**expected, **{(k, d): float(k * 10 + d) + commits for k, d in arg}}
            elif op == "delete":
                if not any(k in arg for k, _ in expected):
                    continue  # no match: no commit (covered elsewhere)
                action = lambda arg=arg: fg.delete_records(pd.DataFrame({"pid": arg}))  # noqa: E731
                after = {key: v for key, v in expected.items() if key[0] not in arg}
            else:
                if arg > commits:
                    continue
                action = lambda arg=arg: fg.rollback(arg)  # noqa: E731
                after = dict(history[arg])
            with _faults(fault):
                try:
                    commit = action()
                except OnlineBehindError as behind:
                    assert fault == "delta+rebuild"
                    commit = behind.commit
            commits += 1
            assert commit.commit_id == commits  # every written commit is reported, once
            expected = after
            history.append(dict(after))
            offline = {(int(r["pid"]), int(r["ts"].day)): float(r["age"]) for r in fg.read().to_dict("records")}
            assert offline == expected
            assert [c.commit_id for c in fg.commits()] == list(range(1, commits + 1))
            latest: dict[int, tuple[int, float]] = {}
            for (pid, d), age in sorted(expected.items()):
                latest[pid] = (d, age)
            online = {int(r["pid"]): (int(r["ts"].day), float(r["age"])) for r in _online(fg)}
            assert online == latest  # after the read's catch-up, online = latest offline


def test_versions_out_of_range_are_validation_errors(project: Any) -> None:
    fs = project.get_feature_store()
    for bad in (2**63, 10**30, 0, -1, True, 1.5):
        with pytest.raises(lakebox.ValidationError, match="version"):
            fs.create_feature_group("players", version=bad, primary_key=["pid"])
        with pytest.raises(lakebox.ValidationError, match="version"):
            fs.get_feature_group("players", version=bad)
        with pytest.raises(lakebox.ValidationError, match="version"):
            project.get_model_registry().get_model("m", version=bad)
    fg = _group(project, online=False)
    fg.insert(_rows([1], 1.0))
    for bad in (-5, 0, True):
        with pytest.raises(lakebox.ValidationError, match="keep_last"):
            fg.expire_commits(keep_last=bad)
    assert len(fg.commits()) == 1


def test_the_change_feed_lists_inserts_updates_and_deletes(project: Any) -> None:
    fg = _group(project, online=False)
    first = fg.insert(_rows([1, 2], 10.0))
    fg.insert(_rows([2], 99.0))  # same (key, event time): an update
    fg.delete_records(pd.DataFrame({"pid": [1]}))
    feed = fg.read_changes(first.commit_id)
    assert [(r["_commit_id"], r["_change_type"], r["pid"], r["age"]) for r in feed.to_dict("records")] == [
        (2, "update_preimage", 2, 11.0),  # _rows gives pid 2 the age 10.0 + 1
        (2, "update_postimage", 2, 99.0),
        (3, "delete", 1, 10.0),
    ]
    everything = fg.read_changes()
    assert list(everything["_change_type"]).count("insert") == 2
    assert fg.read_changes(first.commit_id, first.commit_id).empty
