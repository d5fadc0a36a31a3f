"""The one write path of a box (DESIGN §2): every change to a feature group goes through here.

The sequence, for insert, delete, rollback and compaction alike:

1. the group's cross-process write lock (so commits and their mirrors happen in one order);
2. the Iceberg compare-and-swap (``GroupTable.commit``: plans, writes files, retries
   conflicts; after it the commit is durable and is the truth);
3. the catalog's commit log (derived from Iceberg: a failure here is repaired from the
   snapshot summaries by the next write or ``lakebox doctor``);
4. the online mirror (its watermark is written in the same LMDB transaction; a mirror that
   fails is retried as a rebuild on the spot, and if that fails too the caller gets an
   ``OnlineBehindError`` carrying the durable commit, and every online read catches up);
5. the validation report, and statistics (the running summary of the commit, O(rows
   touched); a big insert's are computed in the background, in commit order, and every
   reader of the commit log waits for them: write/statistics.py);
6. retention (expiry of old snapshots, never pinned ones).

Crash invariants (tested in tests/test_write_*.py and tests/test_crash.py): a commit is
either fully in Iceberg or absent; the catalog log and the online store may lag behind
Iceberg but never run ahead of it, and both are repaired from it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.box import Box
from lakebox.catalog.groups import CommitRow, FeatureRow, GroupRow, GroupStore
from lakebox.errors import NotFoundError, OnlineBehindError
from lakebox.offline import maintenance, reader
from lakebox.offline.removed import RemovedRows
from lakebox.offline.table import GroupTable, table_commits
from lakebox.offline.warehouse import Warehouse
from lakebox.online.store import OnlineStore
from lakebox.types import type_name
from lakebox.write import statistics
from lakebox.write.online import OnlineMirror

if TYPE_CHECKING:
    from lakebox.stats import Statistics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    commit: CommitRow
    removed: RemovedRows | None = None  # read by the statistics step only


def schema_of(row: GroupRow) -> pa.Schema:
    """The group's output schema, from its catalog row."""
    from lakebox.types import parse_type

    return pa.schema([pa.field(f.name, parse_type(f.type)) for f in row.features])


class Writer:
    """The write coordinator of one box (one per process, shared by its projects)."""

    def __init__(self, box: Box, groups: GroupStore, warehouse: Warehouse, online: OnlineStore) -> None:
        self.box = box
        self.groups = groups
        self.warehouse = warehouse
        self.mirror = OnlineMirror(online)
        self.statistics_jobs = statistics.Pending()
        self._tables: dict[str, GroupTable] = {}
        self._tables_lock = threading.Lock()
        self._pid = os.getpid()

    def table(self, row: GroupRow) -> GroupTable:
        """The group's offline table; one object per group per process, so its write lock is
        re-entrant for every api object of the group."""
        with self._tables_lock:
            if self._pid != os.getpid():  # a forked child builds its own locks (never inherits them)
                self._tables, self._pid = {}, os.getpid()
            found = self._tables.get(row.table_name)
            if found is None:
                found = GroupTable(
                    self.warehouse, row.table_name, row.primary_key, row.event_time, self.box.locks, self.box.keyindex
                )
                self._tables[row.table_name] = found
            return found

    # -- schema -------------------------------------------------------------------------
    def ensure_table(self, row: GroupRow, schema: pa.Schema) -> GroupRow:
        """Create the Iceberg table and record the schema (first insert or declared features)."""
        with self.table(row).lock:
            if not self.warehouse.exists(row.table_name):
                self.warehouse.create(row.table_name, schema)
            current = self._reload(row)
            if not current.features:
                self.groups.set_features(row.id, [FeatureRow(f.name, type_name(f.type)) for f in schema])
        return self._reload(row)

    # -- commits ------------------------------------------------------------------------
    def insert(self, row: GroupRow, batch: pa.Table, report: Any = None) -> CommitRow:
        """Upsert ``batch`` (already validated and in storage form) as one commit."""
        # A small batch is summarised while its files are written (it needs no lock and mostly
        # runs outside the GIL; the statistics step, before returning, waits for it). A big
        # one is summarised by its background statistics job: on 2 cores, summarising beside
        # the write made a 1M-row insert ~1.5x slower to return.
        added = None
        if _statistics_on(row):
            big = batch.num_rows >= statistics.BACKGROUND_ROWS
            added = statistics.Deferred(batch) if big else statistics.Summarizing(batch)
        try:
            commit = self._run(row, lambda table: table.insert(batch), batch=batch, added=added, report=report)
        except BaseException:
            if isinstance(added, statistics.Summarizing):
                added.result()  # never leave its thread running past a failed call
            raise
        assert commit is not None
        return commit

    def delete(self, row: GroupRow, keys: pa.Table) -> CommitRow | None:
        """Delete the rows matching ``keys``; None when nothing matched (no commit)."""
        return self._run(row, lambda table: table.delete_keys(keys), deleted=keys)

    def rollback(self, row: GroupRow, target: CommitRow) -> CommitRow:
        """A new commit whose data equals the data of ``target``."""
        commit = self._run(row, lambda table: table.rollback(target.snapshot_id), restored=target.commit_id)
        assert commit is not None
        return commit

    def compact(self, row: GroupRow) -> CommitRow | None:
        """Rewrite small files into few large ones (same rows). The files are read and written
        without the write lock (writers go on meanwhile); the lock is taken only to commit,
        and the steps after the commit run inside it, as for every other commit."""
        group = self.table(row)
        row = self._reload(row)
        after = _After()
        commit = group.compact(on_commit=lambda c: after.capture(self._after_commit(row, group, _Outcome(c))))
        return self._report(row, commit, after.online_error)

    def _run(
        self,
        row: GroupRow,
        operation: Callable[[GroupTable], Any],
        *,
        batch: pa.Table | None = None,
        deleted: pa.Table | None = None,
        added: Any = None,
        restored: int | None = None,
        report: Any = None,
    ) -> CommitRow | None:
        group = self.table(row)
        row = self._reload(row)  # online_enabled / settings may have changed in another process
        with group.lock:
            outcome = _outcome(operation(group))  # 2. Iceberg compare-and-swap: durable from here on
            if outcome is None:
                return None
            online_error = self._after_commit(row, group, outcome, batch=batch, deleted=deleted, added=added,
                                              restored=restored, report=report)
        if group.deletes_piled_up():  # merge-on-read deletes are folded away before reads degrade
            self._fold(row, outcome.commit)
        return self._report(row, outcome.commit, online_error)

    def _fold(self, row: GroupRow, commit: CommitRow) -> None:
        """Compact after ``commit`` (outside the write lock); a failure leaves the deletes for
        the next commit or ``fg.compact()`` and never fails the durable commit."""
        try:
            self.compact(row)
        except Exception:  # noqa: BLE001 - the commit is durable; folding is retried after the next one
            log.warning("%s v%s: folding deletes after commit %s failed", row.name, row.version, commit.commit_id,
                        exc_info=True)

    def _after_commit(
        self,
        row: GroupRow,
        group: GroupTable,
        outcome: _Outcome,
        *,
        batch: pa.Table | None = None,
        deleted: pa.Table | None = None,
        added: Any = None,
        restored: int | None = None,
        report: Any = None,
    ) -> Exception | None:
        """Steps 3-6, under the write lock, after the commit is durable; never raises for a
        derived store: returns the online failure (if any) for ``_report``."""
        commit = outcome.commit
        self._record(row, commit)  # 3. the commit log
        online_error = None
        if row.online_enabled:
            online_error = self._mirror(row, group, commit, batch, deleted)  # 4. online
        if report is not None:
            self.groups.save_report(row.id, commit.commit_id, report.success, row.settings.get("validation", "strict"),
                                    report.to_dict())
        if _statistics_on(row):  # 5. statistics, in commit order: each extends the one before
            def job() -> None:
                self._statistics(row, group, commit, added, outcome.removed, restored)

            if batch is not None and batch.num_rows >= statistics.BACKGROUND_ROWS:
                self.statistics_jobs.submit(row.id, job, limit=statistics.MAX_QUEUED)
            else:
                self.statistics_jobs.wait(row.id)
                job()
        try:
            self.apply_retention(row)  # 6. retention
        except Exception:  # noqa: BLE001 - history is kept a while longer; the next commit retries
            log.warning("%s v%s: retention after commit %s failed", row.name, row.version, commit.commit_id,
                        exc_info=True)
        return online_error

    def _report(self, row: GroupRow, commit: CommitRow | None, online_error: Exception | None) -> CommitRow | None:
        if commit is None:
            return None
        log.info("%s v%s: commit %s inserted %s, updated %s, deleted %s rows (%s)", row.name, row.version,
                 commit.commit_id, commit.rows_inserted, commit.rows_updated, commit.rows_deleted, commit.kind)
        if online_error is not None:
            raise OnlineBehindError(
                f"Commit {commit.commit_id} of {row.name} v{row.version} is written (offline store and commit log), "
                f"but the online store could not mirror it: {online_error}. Online reads catch up automatically; "
                f"`lakebox online rebuild {row.name} --version {row.version}` repairs it now.",
                commit=commit,
                group=row.name,
                version=row.version,
            ) from online_error
        return commit

    def _record(self, row: GroupRow, commit: CommitRow) -> None:
        try:
            if self.groups.last_commit_id(row.id) < commit.commit_id - 1:
                self.sync_commits(row)  # an earlier commit's log entry was lost: repair it first
            self.groups.record_commits(row.id, [commit])
        except Exception:  # noqa: BLE001 - Iceberg holds the commit; the log is repaired from it
            log.warning("%s v%s: commit %s is durable but the commit log could not record it; it is "
                        "repaired from Iceberg on the next write", row.name, row.version, commit.commit_id, exc_info=True)

    def _mirror(
        self, row: GroupRow, group: GroupTable, commit: CommitRow, batch: pa.Table | None, deleted: pa.Table | None
    ) -> Exception | None:
        schema = schema_of(row)
        try:
            self.mirror.apply(row, schema, group, commit, batch=batch, deleted=deleted)
            return None
        except Exception as first:  # noqa: BLE001 - the commit is durable: repair, then report
            log.warning("%s v%s: online mirror of commit %s failed (%s); rebuilding the group online",
                        row.name, row.version, commit.commit_id, first)
            try:
                self.mirror.rebuild(row, schema, group, commit.commit_id)
                return None
            except Exception as second:  # noqa: BLE001
                return second

    def _statistics(
        self, row: GroupRow, group: GroupTable, commit: CommitRow, added: Any, removed: RemovedRows | None,
        restored: int | None,
    ) -> None:
        try:
            statistics.record(
                self.groups, row, commit, added=added, removed=removed, restored_commit=restored,
                read_all=lambda: self.read_at(row, group, commit.snapshot_id),
            )
        except Exception:  # noqa: BLE001 - statistics are derived; fg.compute_statistics() redoes them
            log.warning("%s v%s: statistics of commit %s could not be stored; fg.compute_statistics() "
                        "computes them", row.name, row.version, commit.commit_id, exc_info=True)

    # -- statistics on demand -------------------------------------------------------------
    def wait_statistics(self, row: GroupRow | None = None) -> None:
        """Until the statistics of every commit of ``row``'s group (None: of every group) made
        by this process are stored (big inserts store theirs in the background)."""
        self.statistics_jobs.wait(row.id if row is not None else None)

    def compute_statistics(self, row: GroupRow, commit: CommitRow) -> Statistics:
        """Exact statistics of the group at ``commit`` (reads it whole). They are stored as the
        commit's statistics, and a fresh (exact) summary of the same rows as its running
        summary, so later commits extend an exact one."""
        from lakebox.stats import compute_statistics, summarize

        self.wait_statistics(row)  # a pending job must not overwrite the exact ones afterwards

        rows = self.read_at(row, self.table(row), commit.snapshot_id)
        exact = compute_statistics(rows)
        self.groups.save_summary(row.id, commit.commit_id, summarize(rows).to_dict(), True)
        self.groups.save_statistics(row.id, commit.commit_id, exact.to_dict())
        return exact

    def read_at(self, row: GroupRow, group: GroupTable, snapshot_id: int | None) -> pa.Table:
        table = group.load()
        return reader.read(table, snapshot_id, schema_of(row))

    # -- the commit log -----------------------------------------------------------------
    def commits(self, row: GroupRow, table: Any = None) -> list[CommitRow]:
        """Every commit, oldest first: the catalog's log completed from Iceberg in memory (a
        read never writes; the next write or ``doctor --repair`` stores the repair). The
        statistics of every listed commit this process made are stored by then."""
        self.wait_statistics(row)
        recorded = self.groups.commits(row.id)
        if not row.features:
            return recorded
        if table is None:
            try:
                table = self.table(row).load()
            except NotFoundError:  # being created, or dropped by another process
                return recorded
        return _merge_log(recorded, table_commits(table))

    def sync_commits(self, row: GroupRow, table: Any = None) -> None:
        """Store what ``commits`` completes in memory (missing commits, expired snapshots)."""
        if not row.features:
            return
        if table is None:
            table = self.table(row).load()
        in_table = table_commits(table)
        recorded = self.groups.commits(row.id)
        known = {c.commit_id for c in recorded}
        missing = [c for c in in_table if c.commit_id not in known]
        if missing:
            self.groups.record_commits(row.id, missing)
        present = {c.snapshot_id for c in in_table}
        gone = [c.snapshot_id for c in recorded if not c.expired and c.snapshot_id not in present]
        if gone:
            self.groups.mark_expired(row.id, gone)

    # -- online -------------------------------------------------------------------------
    def enable_online(self, row: GroupRow) -> int:
        self.groups.update(row.id, online_enabled=True)
        return self.rebuild_online(self._reload(row))

    def disable_online(self, row: GroupRow) -> None:
        self.groups.update(row.id, online_enabled=False)
        self.mirror.drop(row)

    def rebuild_online(self, row: GroupRow) -> int:
        """Recreate the group's online table from the offline store; the number of keys."""
        if not row.features:
            return 0
        group = self.table(row)
        with group.lock:
            commits = table_commits(group.load())
            return self.mirror.rebuild(row, schema_of(row), group, commits[-1].commit_id if commits else 0)

    def online_lag(self, row: GroupRow) -> int:
        """Commits the online store has not applied yet (0 when in step)."""
        if not row.online_enabled or not row.features:
            return 0
        commits = table_commits(self.table(row).load())
        last = commits[-1].commit_id if commits else 0
        return max(0, last - self.mirror.watermark(row))

    def catch_up_online(self, row: GroupRow) -> bool:
        """Replay what the online store missed (a writer died, or a mirror failed); True if it had to."""
        if self.online_lag(row) == 0:
            return False
        with self.table(row).lock:
            if self.online_lag(row) == 0:
                return False
            log.warning("%s v%s: online store behind the offline store; rebuilding it", row.name, row.version)
            self.rebuild_online(row)
            self.sync_commits(row)
        return True

    # -- retention and maintenance ----------------------------------------------------------
    def apply_retention(self, row: GroupRow, vacuum: bool = True) -> list[int]:
        """Expire commits beyond the group's retention policy (never pinned ones)."""
        policy = row.settings.get("retention")
        if not policy:
            return []
        cutoff = None
        if policy.get("max_age_s") is not None:
            cutoff = int(time.time() * 1000 - policy["max_age_s"] * 1000)
        return self.expire(row, cutoff, int(policy.get("keep_last") or 1), vacuum=vacuum)

    def expire(self, row: GroupRow, older_than_ms: int | None, keep_last: int, vacuum: bool = True) -> list[int]:
        group = self.table(row)
        expired = maintenance.expire(group, older_than_ms, keep_last)
        if expired:
            if vacuum:
                maintenance.vacuum(group, grace_s=0.0)
            self.sync_commits(row)
        return expired

    def vacuum(self, row: GroupRow, grace_s: float) -> int:
        return len(maintenance.vacuum(self.table(row), grace_s=grace_s))

    def drop(self, row: GroupRow) -> None:
        """Delete the group everywhere: catalog row, online table, Iceberg table and files."""
        self.wait_statistics(row)
        self.groups.delete(row.id)
        self.mirror.drop(row)
        self.warehouse.drop(row.table_name)
        group = self.table(row)
        with group.lock:  # (its background merge installs under the lock)
            group.key_index.delete()
        with self._tables_lock:
            self._tables.pop(row.table_name, None)

    def _reload(self, row: GroupRow) -> GroupRow:
        current = self.groups.get_by_id(row.id)
        if current is None:
            raise NotFoundError(f"Feature group {row.name} v{row.version} was deleted.")
        return current


class _After:
    """Carries the online failure out of a callback that runs inside the engine's lock."""

    online_error: Exception | None = None

    def capture(self, error: Exception | None) -> None:
        self.online_error = error


def _statistics_on(row: GroupRow) -> bool:
    return bool(row.settings.get("statistics", True))


def _outcome(result: Any) -> _Outcome | None:
    """``GroupTable`` operations return a CommitRow or a WriteResult (commit + removed rows)."""
    if result is None:
        return None
    if isinstance(result, CommitRow):
        return _Outcome(result)
    return _Outcome(result.commit, getattr(result, "removed", None))


def _merge_log(recorded: list[CommitRow], in_table: list[CommitRow]) -> list[CommitRow]:
    known = {c.commit_id for c in recorded}
    present = {c.snapshot_id for c in in_table}
    merged = [
        c if c.expired or c.snapshot_id in present else _expired(c)
        for c in recorded
    ]
    merged.extend(c for c in in_table if c.commit_id not in known)
    return sorted(merged, key=lambda c: c.commit_id)


def _expired(commit: CommitRow) -> CommitRow:
    from dataclasses import replace

    return replace(commit, expired=True)
