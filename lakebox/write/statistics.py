"""The statistics step of the write path: a group's running summary, one per commit.

A commit's statistics cost O(rows it touched): the previous commit's mergeable summary,
minus the rows the commit replaced or deleted, plus the rows it wrote. A rollback makes the
summary of the commit it restores current again; a compaction changes no row. Only when the
previous summary is missing (statistics were off, or a writer died before storing it) is
the group read whole, once, to start an exact summary again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from lakebox.catalog.groups import CommitRow, GroupRow, GroupStore

log = logging.getLogger(__name__)


def summarize_batch(batch: pa.Table) -> Any:
    """The batch's summary, computed before the write lock is taken (it needs none); None if
    it fails (statistics are derived data: the commit goes on, and ``record`` falls back)."""
    try:
        from lakebox.stats import summarize

        return summarize(batch)
    except Exception:  # noqa: BLE001
        log.warning("could not summarise a batch for statistics", exc_info=True)
        return None


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
    removed: pa.Table | None = None,
    restored_commit: int | None = None,
    read_all: Callable[[], pa.Table],
) -> Any:
    """Store the summary and statistics of ``commit`` and return its ``Statistics``.

    ``added`` is the summary of the rows written (inserts), ``removed`` the stored rows the
    commit replaced or deleted, ``restored_commit`` the commit a rollback made current again.
    ``read_all`` reads the group at ``commit`` (the fallback when no previous summary exists).
    """
    from lakebox.stats import Summary, next_summary, summarize

    if isinstance(added, Summarizing):
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
            running = next_summary(previous, None, removed)
        elif previous is not None and commit.kind == "insert" and added is not None:
            running = next_summary(previous, None, removed).merge(added)
    if running is None:  # statistics were off, a writer died before storing them, or a new kind
        log.info("%s v%s: no running summary to extend at commit %s; reading the group once",
                 row.name, row.version, commit.commit_id)
        running = summarize(read_all())
    return store(groups, row, commit.commit_id, running)


def store(groups: GroupStore, row: GroupRow, commit_id: int, summary: Any) -> Any:
    """Persist ``summary`` as the running summary and statistics of ``commit_id``."""
    statistics = summary.statistics()
    groups.save_summary(row.id, commit_id, summary.to_dict(), summary.exact)
    groups.save_statistics(row.id, commit_id, statistics.to_dict())
    return statistics
