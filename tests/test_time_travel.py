"""Reading: output types, time travel by commit time or id, incremental reads, the commit log,
deletes, rollback and compaction (DESIGN §3-4)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day, players, read_rows, rows

import lakebox
from lakebox.catalog.groups import CommitRow


def _commit(fg: Any, batch: pa.Table) -> CommitRow:
    """Insert and make sure the next commit lands on a later millisecond than this one."""
    commit = fg.insert(batch)
    time.sleep(0.005)
    return commit


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def history(players_fg: Any) -> tuple[Any, list[CommitRow]]:
    """Three commits: 1 inserts pids 1-3, 2 updates pid 2 and adds pid 4, 3 appends day 2 of pid 1."""
    commits = [
        _commit(players_fg, players([1, 2, 3])),
        _commit(players_fg, players([2, 4], ages=[99.0, 24.0])),
        _commit(players_fg, players([1], days=2, ages=[41.0])),
    ]
    return players_fg, commits


STATE_1 = [(1, day(1), 21.0, "p1"), (2, day(1), 22.0, "p2"), (3, day(1), 23.0, "p3")]
STATE_2 = [(1, day(1), 21.0, "p1"), (2, day(1), 99.0, "p2"), (3, day(1), 23.0, "p3"), (4, day(1), 24.0, "p4")]
STATE_3 = [(1, day(1), 21.0, "p1"), (1, day(2), 41.0, "p1"), *STATE_2[1:]]


def test_read_output_types(history: Any) -> None:
    fg, _ = history
    frame = fg.read()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["pid", "ts", "age", "name"]
    assert frame["pid"].tolist() == [1, 1, 2, 3, 4]
    polars_frame = fg.read(dataframe_type="polars")
    assert isinstance(polars_frame, pl.DataFrame)
    assert polars_frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert rows(polars_frame.to_arrow()) == STATE_3
    arrow = fg.read(dataframe_type="arrow")
    assert isinstance(arrow, pa.Table)
    assert arrow.schema == pa.schema([("pid", pa.int64()), ("ts", TS), ("age", pa.float64()), ("name", pa.string())])
    assert rows(arrow) == STATE_3
    assert rows(pa.Table.from_pandas(frame, preserve_index=False)) == STATE_3


def test_read_by_commit_id(history: Any) -> None:
    fg, commits = history
    assert read_rows(fg, 1) == STATE_1
    assert read_rows(fg, 2) == STATE_2
    assert read_rows(fg, 3) == STATE_3
    assert read_rows(fg, commits[0]) == STATE_1, "a Commit object names its commit too"


def test_read_by_commit_time(history: Any) -> None:
    fg, commits = history
    first, second, third = (c.committed_on for c in commits)
    assert read_rows(fg, _z(first)) == STATE_1, "exactly at the commit time"
    assert read_rows(fg, first) == STATE_1
    assert read_rows(fg, pd.Timestamp(first)) == STATE_1
    assert read_rows(fg, _z(second - timedelta(milliseconds=1))) == STATE_1, "between commits: the earlier one"
    assert read_rows(fg, second) == STATE_2
    berlin = timezone(timedelta(hours=2))
    assert read_rows(fg, second.astimezone(berlin).isoformat()) == STATE_2, "offsets other than Z"
    assert read_rows(fg, third + timedelta(days=365)) == STATE_3, "a future time reads the latest commit"


def test_time_before_the_first_commit_reads_empty(history: Any) -> None:
    fg, commits = history
    before = commits[0].committed_on - timedelta(milliseconds=1)
    empty = fg.read(wallclock_time=before, dataframe_type="arrow")
    assert empty.num_rows == 0
    assert empty.column_names == ["pid", "ts", "age", "name"]
    assert fg.read(wallclock_time="2000-01-01T00:00:00Z").empty
    assert fg.as_of("2000-01-01T00:00:00Z").read().empty


def test_a_naive_wallclock_means_utc(history: Any) -> None:
    # issue 18: as in hsfs, a time argument without a zone is UTC (and a date its midnight UTC)
    fg, commits = history
    aware = commits[1].committed_on
    naive = aware.astimezone(UTC).replace(tzinfo=None)
    want = fg.read(wallclock_time=aware)
    for value in (naive, naive.isoformat(), pd.Timestamp(naive)):
        pd.testing.assert_frame_equal(fg.read(wallclock_time=value), want)
    pd.testing.assert_frame_equal(fg.as_of(naive).read(), fg.as_of(aware).read())
    assert fg.commit_details(wallclock_time=naive) == fg.commit_details(wallclock_time=aware)


def test_as_of_pins_a_query(history: Any) -> None:
    fg, commits = history
    assert rows(fg.as_of(commits[0].committed_on).read(dataframe_type="arrow")) == STATE_1
    assert rows(fg.as_of(2).read(dataframe_type="arrow")) == STATE_2
    assert rows(fg.select(["pid", "age"]).as_of(1).read(dataframe_type="arrow")) == [(r[0], r[2]) for r in STATE_1]


def test_incremental_read_returns_the_changes_in_between(history: Any) -> None:
    fg, commits = history
    t1, t2, t3 = (c.committed_on for c in commits)
    changes = fg.as_of(t2, exclude_until=t1).read(dataframe_type="arrow")
    assert rows(changes) == [(2, day(1), 99.0, "p2"), (4, day(1), 24.0, "p4")]
    assert rows(fg.as_of(t3, exclude_until=t1).read(dataframe_type="arrow")) == [
        (1, day(2), 41.0, "p1"),
        (2, day(1), 99.0, "p2"),
        (4, day(1), 24.0, "p4"),
    ]
    assert rows(fg.as_of(3, exclude_until=2).read(dataframe_type="arrow")) == [(1, day(2), 41.0, "p1")]
    assert fg.as_of(t3, exclude_until=t3).read().empty, "nothing changed in an empty interval"
    before = _z(t1 - timedelta(seconds=1))
    assert rows(fg.as_of(t1, exclude_until=before).read(dataframe_type="arrow")) == STATE_1
    assert rows(fg.select(["pid"]).as_of(t2, exclude_until=t1).read(dataframe_type="arrow")) == [(2,), (4,)]


def test_incremental_read_ignores_identical_reinserts(players_fg: Any) -> None:
    first = _commit(players_fg, players([1, 2]))
    second = _commit(players_fg, players([1, 2, 3]))  # 1 and 2 unchanged
    changes = players_fg.as_of(second.committed_on, exclude_until=first.committed_on).read()
    assert changes["pid"].tolist() == [3]


def test_exclude_until_needs_a_wallclock_time(history: Any) -> None:
    fg, _ = history
    with pytest.raises(lakebox.ValidationError):
        fg.as_of(None, exclude_until=1)


def test_commit_details_shape(history: Any) -> None:
    fg, commits = history
    details = fg.commit_details()
    assert list(details) == [3, 2, 1], "newest first"
    assert details[1] == {
        "committedOn": commits[0].committed_on.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "rowsInserted": 3,
        "rowsUpdated": 0,
        "rowsDeleted": 0,
        "kind": "insert",
        "expired": False,
    }
    assert {k: details[2][k] for k in ("rowsInserted", "rowsUpdated", "rowsDeleted")} == {
        "rowsInserted": 1,
        "rowsUpdated": 1,
        "rowsDeleted": 0,
    }
    for entry in details.values():
        assert entry["committedOn"].endswith("Z")
        parsed = datetime.fromisoformat(entry["committedOn"])
        assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=5)
    assert list(fg.commit_details(limit=1)) == [3]
    assert list(fg.commit_details(wallclock_time=commits[1].committed_on)) == [2, 1]
    assert [c.commit_id for c in fg.commits()] == [1, 2, 3]


def test_delete_records_by_key_removes_every_event_time(history: Any) -> None:
    fg, _ = history
    commit = fg.delete_records(pd.DataFrame({"pid": [1, 4]}))
    assert commit is not None
    assert (commit.commit_id, commit.kind, commit.rows_deleted, commit.rows_inserted) == (4, "delete", 3, 0)
    assert read_rows(fg) == [(2, day(1), 99.0, "p2"), (3, day(1), 23.0, "p3")]
    assert read_rows(fg, 3) == STATE_3, "history before the delete stays readable"
    assert fg.commit_details()[4]["rowsDeleted"] == 3


def test_delete_records_by_key_and_event_time(history: Any) -> None:
    fg, _ = history
    keys = pl.DataFrame({"pid": [1, 3], "ts": [day(2), day(2)]})  # pid 3 has no day-2 row
    commit = fg.delete_records(keys)
    assert commit is not None and commit.rows_deleted == 1
    assert read_rows(fg) == STATE_2


def test_delete_records_accepts_full_rows_and_duplicates(history: Any) -> None:
    fg, _ = history
    doomed = fg.read(dataframe_type="arrow").filter(pa.compute.equal(pa.compute.field("pid"), 2))
    commit = fg.delete_records(pa.concat_tables([doomed, doomed]))
    assert commit is not None and commit.rows_deleted == 1
    assert [r[0] for r in read_rows(fg)] == [1, 1, 3, 4]


def test_delete_records_without_matches_makes_no_commit(history: Any) -> None:
    fg, _ = history
    assert fg.delete_records(pd.DataFrame({"pid": [77]})) is None
    assert fg.delete_records(pd.DataFrame({"pid": pd.Series([], dtype="int64")})) is None
    assert list(fg.commit_details()) == [3, 2, 1]


def test_delete_then_reinsert(teams_fg: Any) -> None:
    teams_fg.insert(pa.table({"team_id": [1, 2], "city": ["a", "b"]}))
    teams_fg.delete_records(pd.DataFrame({"team_id": [1]}))
    assert read_rows(teams_fg) == [(2, "b")]
    commit = teams_fg.insert(pa.table({"team_id": [1], "city": ["again"]}))
    assert (commit.rows_inserted, commit.rows_updated) == (1, 0)
    assert read_rows(teams_fg) == [(1, "again"), (2, "b")]


def test_delete_records_on_a_group_without_data(players_fg: Any) -> None:
    assert players_fg.delete_records(pd.DataFrame({"pid": [1]})) is None
    assert players_fg.commit_details() == {}


def test_rollback_makes_old_data_current_as_a_new_commit(history: Any) -> None:
    fg, _ = history
    fg.delete_records(pd.DataFrame({"pid": [3]}))  # commit 4
    commit = fg.rollback(1)
    assert (commit.commit_id, commit.kind) == (5, "rollback")
    assert read_rows(fg) == STATE_1
    # keys only in commit 1: none come back except pid 3; pid 4 and pid 1 day 2 go away
    assert (commit.rows_inserted, commit.rows_deleted) == (1, 2)
    for commit_id, state in ((1, STATE_1), (2, STATE_2), (3, STATE_3)):
        assert read_rows(fg, commit_id) == state, "rollback keeps the history it rolled over"
    after = fg.insert(players([5]))
    assert after.commit_id == 6
    assert [r[0] for r in read_rows(fg)] == [1, 2, 3, 5]
    assert fg.rollback(5).commit_id == 7
    assert read_rows(fg) == STATE_1


def test_rollback_to_the_current_commit_changes_nothing(history: Any) -> None:
    fg, _ = history
    commit = fg.rollback(3)
    assert (commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (0, 0, 0)
    assert read_rows(fg) == STATE_3


def test_rollback_of_unknown_commit(history: Any) -> None:
    fg, _ = history
    with pytest.raises(lakebox.NotFoundError, match=r"commits are \[1, 2, 3\]"):
        fg.rollback(0)
    assert list(fg.commit_details()) == [3, 2, 1]


def test_compact_keeps_rows_and_history(players_fg: Any) -> None:
    for n in range(6):
        players_fg.insert(players([n, n + 10], days=n % 3 + 1))
    players_fg.insert(players([0, 11], days=[1, 2], ages=[1.0, 2.0]))  # rewrites files
    before = players_fg.read(dataframe_type="arrow")
    commit = players_fg.compact()
    assert commit is not None and commit.kind == "compact"
    assert (commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (0, 0, 0)
    assert players_fg.read(dataframe_type="arrow").equals(before)
    assert read_rows(players_fg, 1) == [(0, day(1), 20.0, "p0"), (10, day(1), 30.0, "p10")]
    assert players_fg.compact() is None, "one file left: nothing to do"
    players_fg.insert(players([99]))
    assert [r[0] for r in read_rows(players_fg)][-1] == 99
    assert players_fg.rollback(commit.commit_id - 1) is not None
    assert players_fg.read(dataframe_type="arrow").equals(before)


def test_compact_on_an_empty_group(players_fg: Any) -> None:
    assert players_fg.compact() is None


def test_reads_of_an_empty_group(players_fg: Any) -> None:
    assert players_fg.read().empty
    assert players_fg.read(dataframe_type="arrow").num_rows == 0
    assert players_fg.read(dataframe_type="polars").is_empty()
    assert players_fg.commit_details() == {}


def test_rollback_counts_only_rows_that_change(players_fg: Any) -> None:
    players_fg.insert(players([1, 2, 3]))
    players_fg.insert(players([1], ages=[50.0]))  # only pid 1 changes
    commit = players_fg.rollback(1)
    assert read_rows(players_fg) == STATE_1
    assert (commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (0, 1, 0)


def test_a_bad_time_is_refused_even_before_the_first_insert(fs: Any) -> None:
    group = fs.create_feature_group("empty", version=1, primary_key=["pid"])
    assert len(group.read(wallclock_time="2026-01-01T00:00:00Z")) == 0
    assert len(group.read(wallclock_time=datetime(2026, 1, 1))) == 0  # naive: UTC (issue 18)
    with pytest.raises(lakebox.ValidationError):
        group.read(wallclock_time="yesterday")
