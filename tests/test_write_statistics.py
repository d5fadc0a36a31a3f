"""Statistics kept by the write path (issue 10): every commit extends the previous commit's
running summary by the rows it touched, and the exact parts equal statistics recomputed from
scratch over the group as of that commit (the oracle: ``compute_statistics`` on ``fg.read``)."""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakebox
from lakebox.stats import compute_statistics

EXACT_FIELDS = ("count", "null_count", "mean", "stddev")


def _frame(ids: list[int], day: int, base: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ids,
            "ts": pd.to_datetime([f"2026-01-{day:02d}"] * len(ids), utc=True),
            "age": pd.Series([None if i % 5 == 0 else base + i for i in ids], dtype="float64"),
            "team": [f"t{i % 3}" for i in ids],
        }
    )


def _assert_exact_parts_match(fg: Any, commit_id: int) -> None:
    kept = fg.get_statistics(commit_id).to_dict()
    data = pa.Table.from_pandas(fg.read(wallclock_time=commit_id), preserve_index=False)
    truth = compute_statistics(data).to_dict()
    for feature in ("age", "team", "pid"):
        for field in EXACT_FIELDS:
            want, got = truth[feature].get(field), kept[feature].get(field)
            if isinstance(want, float) and isinstance(got, float):
                assert math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9), (commit_id, feature, field, got, want)
            else:
                assert got == want, (commit_id, feature, field, got, want)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.lists(st.integers(0, 30), min_size=1, max_size=12, unique=True),
                  st.integers(1, 3)),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 30), min_size=1, max_size=5, unique=True), st.just(0)),
        st.tuples(st.just("rollback"), st.integers(1, 8), st.just(0)),
        st.tuples(st.just("compact"), st.just([]), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=examples(dev=4, ci=24), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_running_statistics_equal_a_recomputation_at_every_commit(ops: list[tuple[str, Any, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "b.lakebox") as project:
        fg = project.get_feature_store().create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
        made: list[int] = []
        for step, (op, ids, day) in enumerate(ops):
            commit = None
            if op == "insert":
                commit = fg.insert(_frame(ids, day, base=float(step * 100)))
            elif op == "delete" and made:
                commit = fg.delete_records(pd.DataFrame({"pid": ids}))
            elif op == "rollback" and made:
                commit = fg.rollback(made[min(ids, len(made)) - 1])
            elif op == "compact" and made:
                commit = fg.compact()
            if commit is not None:
                made.append(commit.commit_id)
                _assert_exact_parts_match(fg, commit.commit_id)


def test_inserting_new_rows_keeps_statistics_exact_without_reading_the_group(project: Any, caplog: Any) -> None:
    fg = project.get_feature_store().create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
    fg.insert(_frame(list(range(50)), 1, 0.0))
    with caplog.at_level(logging.INFO, logger="lakebox.write.statistics"):
        commit = fg.insert(_frame(list(range(50, 60)), 1, 0.0))
    assert "reading the group once" not in caplog.text  # extended from the previous summary
    stats = fg.get_statistics(commit.commit_id)
    assert stats.exact
    assert stats.to_dict()["pid"]["min"] == 0 and stats.to_dict()["pid"]["max"] == 59


def test_updates_mark_what_they_cannot_subtract_and_compute_statistics_makes_it_exact(project: Any) -> None:
    fg = project.get_feature_store().create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
    fg.insert(_frame(list(range(20)), 1, 0.0))
    fg.insert(_frame([1, 2, 3], 1, 500.0))  # same (key, event time): updates
    assert not fg.get_statistics().exact  # min/max/sketches cannot subtract the replaced rows
    _assert_exact_parts_match(fg, 2)
    recomputed = fg.compute_statistics()
    assert recomputed.exact and fg.get_statistics().exact
    fg.insert(_frame([40], 2, 0.0))  # extends the exact summary: exact again
    assert fg.get_statistics().exact


def test_a_group_whose_statistics_were_off_starts_a_summary_when_turned_on(project: Any) -> None:
    fs = project.get_feature_store()
    fg = fs.create_feature_group("players", 1, primary_key=["pid"], event_time="ts", statistics=False)
    fg.insert(_frame(list(range(10)), 1, 0.0))
    assert project.engines.groups.summary(fg.id) is None
    fg.compute_statistics()
    assert project.engines.groups.summary(fg.id).commit_id == 1


def test_a_big_insert_stores_its_statistics_in_the_background_and_readers_wait(project: Any, caplog: Any) -> None:
    """An insert of BACKGROUND_ROWS rows returns before its statistics are stored; listing the
    commits (so ``get_statistics``) waits for them, and the next commit extends them without
    reading the group."""
    from lakebox.write.statistics import BACKGROUND_ROWS

    fs = project.get_feature_store()
    fg = fs.create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
    with caplog.at_level(logging.INFO, logger="lakebox.write.statistics"):
        fg.insert(_frame(list(range(BACKGROUND_ROWS)), 1, 0.0))
        fg.insert(_frame([3, BACKGROUND_ROWS + 1], 1, 7.0))  # a small commit after it: extends it
    assert not [r for r in caplog.records if "reading the group" in r.getMessage()]
    assert project.engines.writer.statistics_jobs.pending() == 0
    assert fg.get_statistics(1).to_dict()["pid"]["count"] == BACKGROUND_ROWS
    assert fg.get_statistics(2).to_dict()["pid"]["count"] == BACKGROUND_ROWS + 1
    _assert_exact_parts_match(fg, 2)


def test_statistics_jobs_run_in_order_and_wait_waits_for_a_group() -> None:
    import threading

    from lakebox.write.statistics import Pending

    jobs, done, gate = Pending(), [], threading.Event()
    jobs.submit("a", lambda: (gate.wait(), done.append("a1")))
    jobs.submit("b", lambda: done.append("b1"))
    jobs.submit("a", lambda: done.append("a2"))
    assert jobs.pending("a") == 2 and jobs.pending("b") == 1
    gate.set()
    jobs.wait("b")
    assert done[:2] == ["a1", "b1"]
    jobs.wait()
    assert done == ["a1", "b1", "a2"] and jobs.pending() == 0
    jobs.submit("a", lambda: 1 / 0)  # a failing job is logged, the queue goes on
    jobs.submit("a", lambda: done.append("a3"))
    jobs.wait("a")
    assert done[-1] == "a3"


def test_a_writer_faster_than_its_statistics_waits_for_room_in_the_queue() -> None:
    """Each queued job holds its batch: with ``limit``, ``submit`` waits until fewer than
    ``limit`` jobs of the key are queued, so memory stays bounded."""
    import threading

    from lakebox.write.statistics import Pending

    jobs, gate, submitted = Pending(), threading.Event(), []
    jobs.submit("g", gate.wait, limit=2)
    jobs.submit("g", lambda: None, limit=2)

    def third() -> None:
        jobs.submit("g", lambda: None, limit=2)
        submitted.append(True)

    writer = threading.Thread(target=third)
    writer.start()
    writer.join(timeout=0.5)  # it cannot get in while two jobs are queued (no timing is asserted)
    assert not submitted and jobs.pending("g") == 2
    jobs.submit("other", lambda: None, limit=2)  # other groups are not held up
    gate.set()
    writer.join()
    jobs.wait()
    assert submitted and jobs.pending() == 0


def test_replaced_rows_too_costly_to_read_are_forgotten_and_marked(project: Any, monkeypatch: Any, caplog: Any) -> None:
    """An update whose replaced rows sit in row groups much bigger than the commit does not
    decode them: the row count stays exact, the other parts are flagged approximate, and
    ``compute_statistics`` makes them exact again."""
    from lakebox.write import statistics

    fg = project.get_feature_store().create_feature_group("players", 1, primary_key=["pid"], event_time="ts")
    fg.insert(_frame(list(range(200)), 1, 0.0))  # one data file, one row group of 200 rows
    caplog.set_level(logging.INFO, logger="lakebox.write.statistics")
    monkeypatch.setattr(statistics, "READ_FLOOR", 0)
    monkeypatch.setattr(statistics, "READ_FACTOR", 10)
    update = fg.insert(_frame([7, 8], 1, 900.0))  # 2 rows: a budget of 20 rows, 200 to decode
    assert "forgotten" in caplog.text
    stats = fg.get_statistics(update.commit_id)
    assert not stats.exact and stats.to_dict()["pid"]["count"] == 202  # the two replaced rows still count
    truth = compute_statistics(pa.Table.from_pandas(fg.read(), preserve_index=False)).to_dict()
    summary = stats.to_dict()
    assert summary["age"]["max"] == truth["age"]["max"] == 908.0  # a new maximum is exact all the same
    approximate = stats.to_dict()["$approximate"]
    assert {"count", "mean", "stddev", "quantiles"} <= set(approximate["age"]) and "count" in approximate["team"]
    caplog.clear()
    monkeypatch.setattr(statistics, "READ_FACTOR", 1000)  # 1 row x 1000 >= 200: read and subtracted
    fg.compute_statistics()
    last = fg.insert(_frame([9], 1, 901.0))  # replaces one row: read and subtracted
    assert "forgotten" not in caplog.text
    assert "count" not in fg.get_statistics().to_dict().get("$approximate", {}).get("age", [])
    _assert_exact_parts_match(fg, last.commit_id)
