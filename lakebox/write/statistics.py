"""The statistics step of the write path: a group's running summary, one per commit.

A commit's statistics cost O(rows it touched): the previous commit's mergeable summary,
minus the rows the commit replaced or deleted, plus the rows it wrote. Replaced rows are read
back from the Parquet row groups holding them while that decodes at most ``READ_FACTOR``
times the rows of the commit (or ``READ_FLOOR``); beyond, they are forgotten: the row count
stays exact and the other fields are marked approximate (``$approximate`` in the statistics)
until ``fg.compute_statistics()``. (A 100-row update spread over a 10M-row group would
otherwise decode the whole group, for each commit.) A rollback makes the
summary of the commit it restores current again; a compaction changes no row. Only when the
previous summary is missing (statistics were off, or a writer died before storing it, or
another process's are still being computed) is the group read whole, once, to start an
exact summary again.

Statistics are post-commit work: the statistics of a big insert (``BACKGROUND_ROWS`` rows or
more; summarising 1M x 12 columns takes about twice the CPU of writing them) are computed and
stored by ``Pending``, one background thread per process that runs the jobs in commit order,
so the insert returns once its commit is durable and mirrored online (Hopsworks, too, computes
statistics in a job after the insert). At most ``MAX_QUEUED`` jobs wait per group (each holds
its batch): a writer faster than its statistics waits for them. Smaller commits store theirs
before returning. Every
reader that lists a group's commits (``Writer.commits``, hence ``fg.get_statistics()``,
``fg.commit_details()``) first waits for the group's pending statistics, as do
``compute_statistics``, the next commit's own statistics and closing the box.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Hashable
from typing import Any

import pyarrow as pa

from lakebox.catalog.groups import CommitRow, GroupRow, GroupStore
from lakebox.offline.removed import RemovedRows
from lakebox.priority import lower_this_thread

log = logging.getLogger(__name__)

BACKGROUND_ROWS = 100_000  # inserts this big store their statistics in the background
MAX_QUEUED = 2  # background jobs waiting per group before a new one waits for room
# Replaced or deleted rows are read back for the summary (Parquet row groups holding them)
# only while that decodes at most READ_FACTOR x the rows the commit wrote or deleted, or
# READ_FLOOR rows (~30 ms of CPU for 12 columns); beyond, they are forgotten (Summary.forget):
# a 100-row update spread over a 10M-row group would otherwise decode the whole group.
READ_FACTOR = 4
READ_FLOOR = 200_000


class Pending:
    """Post-commit statistics jobs of one process, run in submission order on one thread.

    The thread exists only while there are jobs (none is inherited by a forked child, whose
    queue starts empty) and is not a daemon: jobs run inside DuckDB, and interpreter exit
    waits for them rather than killing a thread there.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._jobs: deque[tuple[Hashable, Callable[[], object]]] = deque()
        self._counts: Counter[Hashable] = Counter()
        self._running = False
        self._pid = os.getpid()

    def submit(self, key: Hashable, job: Callable[[], object], limit: int | None = None) -> None:
        """Run ``job`` after every job submitted before it (``key``: what ``wait`` waits for);
        with ``limit``, first wait until fewer than ``limit`` jobs of ``key`` are queued."""
        with self._changed:
            self._forked()
            if limit is not None:
                self._changed.wait_for(lambda: self._counts[key] < limit)
            self._jobs.append((key, job))
            self._counts[key] += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="lakebox-statistics-jobs").start()

    def wait(self, key: Hashable | None = None) -> None:
        """Until no job of ``key`` (None: no job at all) is queued or running."""
        with self._changed:
            self._forked()
            self._changed.wait_for(lambda: (self._counts[key] == 0) if key is not None else not self._jobs and not self._running)

    def pending(self, key: Hashable | None = None) -> int:
        with self._changed:
            self._forked()
            return self._counts[key] if key is not None else sum(self._counts.values())

    def _forked(self) -> None:
        if self._pid != os.getpid():  # a child: the parent's jobs and thread are not ours
            self._jobs.clear()
            self._counts.clear()
            self._running, self._pid = False, os.getpid()

    def _run(self) -> None:
        lower_this_thread()  # statistics are post-commit work: the next insert goes first
        while True:
            with self._changed:
                if not self._jobs:
                    self._running = False
                    self._changed.notify_all()
                    return
                key, job = self._jobs[0]
            try:
                job()
            except Exception:  # noqa: BLE001 - statistics are derived; compute_statistics() redoes them
                log.warning("a statistics job failed", exc_info=True)
            finally:
                with self._changed:
                    self._jobs.popleft()
                    self._counts[key] -= 1
                    if not self._counts[key]:
                        del self._counts[key]
                    self._changed.notify_all()


def summarize_batch(batch: pa.Table) -> Any:
    """The batch's summary, computed before the write lock is taken (it needs none); None if
    it fails (statistics are derived data: the commit goes on, and ``record`` falls back)."""
    try:
        from lakebox.stats import summarize

        return summarize(batch)
    except Exception:  # noqa: BLE001
        log.warning("could not summarise a batch for statistics", exc_info=True)
        return None


class Deferred:
    """The summary of ``batch``, computed by whoever first asks for ``result()`` (a big
    insert's background statistics job)."""

    def __init__(self, batch: pa.Table) -> None:
        self._batch: pa.Table | None = batch
        self._summary: Any = None

    def result(self) -> Any:
        if self._batch is not None:
            self._summary, self._batch = summarize_batch(self._batch), None
        return self._summary


class Summarizing:
    """``summarize_batch(batch)`` running in a thread of its own; ``result()`` waits for it.
    A fresh thread per commit (no pool), so nothing is shared with a forked child."""

    def __init__(self, batch: pa.Table) -> None:
        self._summary: Any = None
        # not a daemon: a thread killed inside DuckDB at interpreter exit aborts the process
        self._thread = threading.Thread(target=self._run, args=(batch,), name="lakebox-statistics")
        self._thread.start()

    def _run(self, batch: pa.Table) -> None:
        self._summary = summarize_batch(batch)

    def result(self) -> Any:
        self._thread.join()
        return self._summary


def record(
    groups: GroupStore,
    row: GroupRow,
    commit: CommitRow,
    *,
    added: Any = None,
    removed: RemovedRows | None = None,
    restored_commit: int | None = None,
    read_all: Callable[[], pa.Table],
) -> Any:
    """Store the summary and statistics of ``commit`` and return its ``Statistics``.

    ``added`` is the summary of the rows written (inserts), ``removed`` the stored rows the
    commit replaced or deleted (read within the budget of ``READ_FACTOR``, else forgotten),
    ``restored_commit`` the commit a rollback made current again. ``read_all`` reads the
    group at ``commit`` (the fallback when no previous summary exists).
    """
    from lakebox.stats import Summary, next_summary, summarize

    if isinstance(added, (Summarizing, Deferred)):
        added = added.result()
    running: Any = None
    if commit.kind == "rollback" and restored_commit is not None:
        found = groups.summary(row.id, restored_commit)
        if found is not None and found.commit_id == restored_commit:
            running = Summary.from_dict(found.summary)
    elif commit.commit_id == 1 and commit.kind == "insert" and added is not None:
        running = added
    else:
        found = groups.summary(row.id, commit.commit_id - 1)
        previous = found.summary if found is not None and found.commit_id == commit.commit_id - 1 else None
        if previous is not None and commit.kind == "compact":
            running = Summary.from_dict(previous)
        elif previous is not None and commit.kind == "delete":
            running = next_summary(previous, None, *_removed_rows(commit, removed))
        elif previous is not None and commit.kind == "insert" and added is not None:
            running = next_summary(previous, None, *_removed_rows(commit, removed)).merge(added)
    if running is None:  # statistics were off, a writer died before storing them, or a new kind
        log.info("%s v%s: no running summary to extend at commit %s; reading the group once",
                 row.name, row.version, commit.commit_id)
        running = summarize(read_all())
    return store(groups, row, commit.commit_id, running)


def _removed_rows(commit: CommitRow, removed: RemovedRows | None) -> tuple[pa.Table | None, int]:
    """``(rows read, rows forgotten)`` of what ``commit`` replaced or deleted."""
    if removed is None or not removed.num_rows:
        return None, 0
    touched = commit.rows_inserted + commit.rows_updated + commit.rows_deleted
    if removed.read_cost() <= max(READ_FACTOR * touched, READ_FLOOR):
        return removed.table(), 0
    log.info("commit %s: %s replaced rows are forgotten, not read (the row groups holding them are "
             "much bigger than the commit); its statistics are approximate", commit.commit_id, removed.num_rows)
    return None, removed.num_rows


def store(groups: GroupStore, row: GroupRow, commit_id: int, summary: Any) -> Any:
    """Persist ``summary`` as the running summary and statistics of ``commit_id``."""
    statistics = summary.statistics()
    groups.save_summary(row.id, commit_id, summary.to_dict(), summary.exact)
    groups.save_statistics(row.id, commit_id, statistics.to_dict())
    return statistics
