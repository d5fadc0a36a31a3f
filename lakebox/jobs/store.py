"""Jobs, executions, backfills and schedules in the SQLite catalog (migrations 016-017).

Every value is a bound parameter; times are ISO-8601 UTC strings with a ``Z``. An execution in
state ``running`` is alive exactly while its supervising process holds the execution's lock file
(an ``flock``, released by the kernel when that process dies, however it dies): ``reap`` records
an execution whose process died as ``killed``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakebox.catalog.db import CatalogDB
from lakebox.errors import AlreadyExistsError, NotFoundError

ACTIVE = "running"
FINAL = ("succeeded", "failed", "timed_out", "killed")
STATES = (ACTIVE, *FINAL)
HOST = socket.gethostname()


def iso(dt: datetime) -> str:
    """``dt`` as ISO-8601 UTC with microseconds and ``Z`` (sortable as text)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_iso() -> str:
    return iso(datetime.now(UTC))


@dataclass(frozen=True)
class JobRow:
    id: int
    name: str
    description: str
    entrypoint: str
    kind: str
    target: str
    function: str
    file_hash: str | None
    params: dict[str, Any]
    retries: int
    retry_delay_s: float
    timeout_s: float | None
    created_at: str


@dataclass(frozen=True)
class ExecutionRow:
    id: int
    job_id: int
    number: int
    state: str
    trigger: str
    claim: str | None
    params: dict[str, Any]
    backfill_id: int | None
    window_start: str | None
    window_end: str | None
    attempts: int
    pid: int | None
    host: str | None
    worker_pid: int | None
    lock_file: str
    kill_requested: bool
    exit_code: int | None
    error: str | None
    log: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_s: float | None


@dataclass(frozen=True)
class CommitRef:
    group_id: int
    group_name: str
    group_version: int
    commit_id: int


@dataclass(frozen=True)
class BackfillRow:
    id: int
    job_id: int
    start_at: str
    end_at: str
    every_s: float
    parallelism: int
    params: dict[str, Any]
    state: str
    created_at: str
    finished_at: str | None


@dataclass(frozen=True)
class ScheduleRow:
    job_id: int
    cron: str | None
    timezone: str
    start_at: str
    end_at: str | None
    catch_up: bool
    last_fire: str | None
    enabled: bool
    created_at: str
    triggers: tuple[tuple[int, int], ...] = ()  # (group id, last handled commit)


def _job(row: Any) -> JobRow:
    return JobRow(
        id=row["id"], name=row["name"], description=row["description"], entrypoint=row["entrypoint"],
        kind=row["kind"], target=row["target"], function=row["function"], file_hash=row["file_hash"],
        params=json.loads(row["params"]), retries=row["retries"], retry_delay_s=row["retry_delay_s"],
        timeout_s=row["timeout_s"], created_at=row["created_at"],
    )


def _execution(row: Any) -> ExecutionRow:
    values = dict(row)
    values["params"] = json.loads(values["params"])
    values["kill_requested"] = bool(values["kill_requested"])
    return ExecutionRow(**values)


def _backfill(row: Any) -> BackfillRow:
    values = dict(row)
    values["params"] = json.loads(values["params"])
    return BackfillRow(**values)


# lineage edges "group triggers job" of a job (rewritten with its schedule)
_DROP_TRIGGER_EDGES = (
    "DELETE FROM lineage WHERE relation = 'triggers' AND dst IN (SELECT id FROM assets WHERE kind = 'job' AND ref_id = ?)"
)

# one fixed statement per updatable column (no SQL is built from names or values)
_JOB_UPDATES = {
    "entrypoint": "UPDATE jobs SET entrypoint = ? WHERE id = ?",
    "kind": "UPDATE jobs SET kind = ? WHERE id = ?",
    "target": "UPDATE jobs SET target = ? WHERE id = ?",
    "function": "UPDATE jobs SET function = ? WHERE id = ?",
    "file_hash": "UPDATE jobs SET file_hash = ? WHERE id = ?",
    "params": "UPDATE jobs SET params = ? WHERE id = ?",
    "retries": "UPDATE jobs SET retries = ? WHERE id = ?",
    "retry_delay_s": "UPDATE jobs SET retry_delay_s = ? WHERE id = ?",
    "timeout_s": "UPDATE jobs SET timeout_s = ? WHERE id = ?",
    "description": "UPDATE jobs SET description = ? WHERE id = ?",
}


def lock_free(path: str | os.PathLike[str]) -> bool:
    """True when no process holds the ``flock`` on ``path`` (a missing file is free)."""
    import fcntl  # POSIX only: imported when jobs run, so `import lakebox` works everywhere

    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class JobStore:
    """The catalog's job tables. ``root`` is the box directory (log and lock paths are
    recorded relative to it where they live inside it)."""

    def __init__(self, db: CatalogDB, root: Path) -> None:
        self.db = db
        self.root = root

    # -- jobs ---------------------------------------------------------------------------
    def create_job(self, name: str, description: str, entrypoint: str, kind: str, target: str, function: str,
                   file_hash: str | None, params: dict[str, Any], retries: int, retry_delay_s: float,
                   timeout_s: float | None) -> JobRow:
        try:
            with self.db.write() as conn:
                cursor = conn.execute(
                    "INSERT INTO jobs (name, description, entrypoint, kind, target, function, file_hash, params,"
                    " retries, retry_delay_s, timeout_s, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (name, description, entrypoint, kind, target, function, file_hash, json.dumps(params),
                     retries, retry_delay_s, timeout_s, now_iso()),
                )
                job_id = int(cursor.lastrowid or 0)
        except AlreadyExistsError as e:
            raise AlreadyExistsError(
                f"A job named {name!r} exists already; pick another name, or get it with job_api.get_job({name!r})."
            ) from e
        return self.job_by_id(job_id)

    def job(self, name: str) -> JobRow | None:
        rows = self.db.query("SELECT * FROM jobs WHERE name = ?", (name,))
        return _job(rows[0]) if rows else None

    def job_by_id(self, job_id: int) -> JobRow:
        rows = self.db.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFoundError(f"Job {job_id} was deleted.")
        return _job(rows[0])

    def jobs(self) -> list[JobRow]:
        return [_job(r) for r in self.db.query("SELECT * FROM jobs ORDER BY name")]

    def update_job(self, job_id: int, values: dict[str, Any]) -> None:
        """Set some columns of a job (names from ``_JOB_UPDATES`` only; values bound)."""
        with self.db.write() as conn:
            for column, value in values.items():
                conn.execute(_JOB_UPDATES[column], (value, job_id))

    def delete_job(self, job_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- executions ---------------------------------------------------------------------
    def new_execution(
        self,
        job_id: int,
        trigger: str,
        params: dict[str, Any],
        lock_file: str,
        log_dir: str,
        *,
        claim: str | None = None,
        backfill_id: int | None = None,
        window: tuple[str, str] | None = None,
        require_idle: bool = False,
    ) -> ExecutionRow | None:
        """Record a new execution (state ``running``), numbered after the job's last one.

        ``claim``: a key no other execution may hold (a scheduler's fire time); when another
        holds it, None. ``require_idle``: None when another execution of the job is running.
        Both checks and the insert are one transaction, so two processes never both win.
        """
        with self.db.write() as conn:
            if claim is not None and conn.execute("SELECT 1 FROM job_executions WHERE claim = ?", (claim,)).fetchone():
                return None
            if require_idle and conn.execute(
                "SELECT 1 FROM job_executions WHERE job_id = ? AND state = ?", (job_id, ACTIVE)
            ).fetchone():
                return None
            number = conn.execute(
                "SELECT coalesce(max(number), 0) + 1 FROM job_executions WHERE job_id = ?", (job_id,)
            ).fetchone()[0]
            log = f"{log_dir}/{number}.log"
            cursor = conn.execute(
                "INSERT INTO job_executions (job_id, number, state, trigger, claim, params, backfill_id, window_start,"
                " window_end, pid, host, lock_file, log, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (job_id, number, ACTIVE, trigger, claim, json.dumps(params), backfill_id,
                 window[0] if window else None, window[1] if window else None, None, HOST, lock_file, log,
                 now_iso()),
            )
            execution_id = int(cursor.lastrowid or 0)
        return self.execution(execution_id)

    def claimed(self, claim: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM job_executions WHERE claim = ?", (claim,)))

    def execution(self, execution_id: int) -> ExecutionRow:
        rows = self.db.query("SELECT * FROM job_executions WHERE id = ?", (execution_id,))
        if not rows:
            raise NotFoundError(f"Execution {execution_id} does not exist (its job was deleted?).")
        return _execution(rows[0])

    def executions(self, job_id: int, backfill_id: int | None = None) -> list[ExecutionRow]:
        if backfill_id is None:
            rows = self.db.query("SELECT * FROM job_executions WHERE job_id = ? ORDER BY number", (job_id,))
        else:
            rows = self.db.query(
                "SELECT * FROM job_executions WHERE job_id = ? AND backfill_id = ? ORDER BY number",
                (job_id, backfill_id),
            )
        return [_execution(r) for r in rows]

    def running(self, job_id: int | None = None) -> list[ExecutionRow]:
        if job_id is None:
            rows = self.db.query("SELECT * FROM job_executions WHERE state = ? ORDER BY id", (ACTIVE,))
        else:
            rows = self.db.query(
                "SELECT * FROM job_executions WHERE state = ? AND job_id = ? ORDER BY id", (ACTIVE, job_id)
            )
        return [_execution(r) for r in rows]

    def set_owner(self, execution_id: int, pid: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE job_executions SET pid = ?, host = ? WHERE id = ?", (pid, HOST, execution_id))

    def set_started(self, execution_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE job_executions SET pid = ?, host = ?, started_at = coalesce(started_at, ?) WHERE id = ?",
                (os.getpid(), HOST, now_iso(), execution_id),
            )

    def set_attempt(self, execution_id: int, attempt: int, worker_pid: int | None) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE job_executions SET attempts = ?, worker_pid = ? WHERE id = ?",
                (attempt, worker_pid, execution_id),
            )

    def request_kill(self, execution_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE job_executions SET kill_requested = 1 WHERE id = ? AND state = ?",
                         (execution_id, ACTIVE))

    def finish(self, execution_id: int, state: str, exit_code: int | None = None, error: str | None = None) -> bool:
        """Record the final state once (False if the execution was already final)."""
        finished = datetime.now(UTC)
        with self.db.write() as conn:
            row = conn.execute("SELECT started_at, created_at FROM job_executions WHERE id = ?",
                               (execution_id,)).fetchone()
            if row is None:
                return False
            began = parse_time(row["started_at"] or row["created_at"])
            duration = (finished - began).total_seconds() if began else None
            cursor = conn.execute(
                "UPDATE job_executions SET state = ?, exit_code = ?, error = ?, finished_at = ?, duration_s = ?,"
                " started_at = coalesce(started_at, created_at) WHERE id = ? AND state = ?",
                (state, exit_code, error, iso(finished), duration, execution_id, ACTIVE),
            )
            return cursor.rowcount == 1

    def lock_path(self, row: ExecutionRow) -> Path:
        return self.root / row.lock_file

    def reap(self, job_id: int | None = None) -> list[int]:
        """Record running executions of this host whose supervising process died as ``killed``."""
        reaped = []
        for row in self.running(job_id):
            if row.host not in (None, HOST) or not lock_free(self.lock_path(row)):
                continue
            current = self.execution(row.id)  # it may have finished between the two reads
            if current.state != ACTIVE:
                continue
            who = f" (pid {current.pid})" if current.pid else ""
            if self.finish(row.id, "killed", error=f"The process running this execution died{who} before it finished."):
                reaped.append(row.id)
                try:
                    self.lock_path(row).unlink(missing_ok=True)
                except OSError:
                    pass
        return reaped

    # -- commits ------------------------------------------------------------------------
    def record_commits(self, execution_id: int, commits: Iterable[CommitRef]) -> None:
        with self.db.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO job_execution_commits (execution_id, group_id, group_name, group_version,"
                " commit_id) VALUES (?,?,?,?,?)",
                [(execution_id, c.group_id, c.group_name, c.group_version, c.commit_id) for c in commits],
            )

    def commits(self, execution_id: int) -> list[CommitRef]:
        rows = self.db.query(
            "SELECT group_id, group_name, group_version, commit_id FROM job_execution_commits"
            " WHERE execution_id = ? ORDER BY group_name, group_version, commit_id",
            (execution_id,),
        )
        return [CommitRef(r["group_id"], r["group_name"], r["group_version"], r["commit_id"]) for r in rows]

    def job_commit_ids(self, job_id: int, group_id: int) -> set[int]:
        rows = self.db.query(
            "SELECT c.commit_id FROM job_execution_commits AS c JOIN job_executions AS e ON e.id = c.execution_id"
            " WHERE e.job_id = ? AND c.group_id = ?",
            (job_id, group_id),
        )
        return {r["commit_id"] for r in rows}

    def commits_between(self, start_ms: int, end_ms: int) -> list[Any]:
        """Commits of any group recorded in the commit log between two wall-clock times."""
        return self.db.query(
            "SELECT c.group_id, c.commit_id, c.snapshot_id, g.name, g.version, g.table_name FROM commits AS c"
            " JOIN feature_groups AS g ON g.id = c.group_id WHERE c.committed_ms BETWEEN ? AND ?"
            " ORDER BY c.group_id, c.commit_id",
            (start_ms, end_ms),
        )

    def group_commit_ids(self, group_id: int, after: int) -> list[int]:
        rows = self.db.query(
            "SELECT commit_id FROM commits WHERE group_id = ? AND commit_id > ? ORDER BY commit_id", (group_id, after)
        )
        return [r["commit_id"] for r in rows]

    def last_group_commit(self, group_id: int) -> int:
        rows = self.db.query("SELECT coalesce(max(commit_id), 0) FROM commits WHERE group_id = ?", (group_id,))
        return int(rows[0][0])

    # -- backfills ----------------------------------------------------------------------
    def create_backfill(self, job_id: int, start_at: str, end_at: str, every_s: float, parallelism: int,
                        params: dict[str, Any]) -> BackfillRow:
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO job_backfills (job_id, start_at, end_at, every_s, parallelism, params, state, created_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (job_id, start_at, end_at, every_s, parallelism, json.dumps(params), ACTIVE, now_iso()),
            )
            backfill_id = int(cursor.lastrowid or 0)
        return self.backfill(backfill_id)

    def backfill(self, backfill_id: int) -> BackfillRow:
        rows = self.db.query("SELECT * FROM job_backfills WHERE id = ?", (backfill_id,))
        if not rows:
            raise NotFoundError(f"Backfill {backfill_id} does not exist.")
        return _backfill(rows[0])

    def backfills(self, job_id: int) -> list[BackfillRow]:
        return [_backfill(r) for r in self.db.query("SELECT * FROM job_backfills WHERE job_id = ? ORDER BY id",
                                                    (job_id,))]

    def finish_backfill(self, backfill_id: int, state: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE job_backfills SET state = ?, finished_at = ? WHERE id = ?",
                         (state, now_iso(), backfill_id))

    def succeeded_windows(self, job_id: int) -> set[tuple[str, str]]:
        rows = self.db.query(
            "SELECT DISTINCT window_start, window_end FROM job_executions WHERE job_id = ? AND state = 'succeeded'"
            " AND trigger = 'backfill'",
            (job_id,),
        )
        return {(r["window_start"], r["window_end"]) for r in rows}

    # -- schedules ----------------------------------------------------------------------
    def set_schedule(self, job_id: int, cron: str | None, timezone: str, start_at: str, end_at: str | None,
                     catch_up: bool, groups: Iterable[int]) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO job_schedules (job_id, cron, timezone, start_at, end_at, catch_up, last_fire, enabled,"
                " created_at) VALUES (?,?,?,?,?,?,NULL,1,?) ON CONFLICT (job_id) DO UPDATE SET cron = excluded.cron,"
                " timezone = excluded.timezone, start_at = excluded.start_at, end_at = excluded.end_at,"
                " catch_up = excluded.catch_up, last_fire = NULL, enabled = 1, created_at = excluded.created_at",
                (job_id, cron, timezone, start_at, end_at, int(catch_up), now_iso()),
            )
            conn.execute("DELETE FROM job_triggers WHERE job_id = ?", (job_id,))
            conn.execute(_DROP_TRIGGER_EDGES, (job_id,))
            for group_id in groups:
                last = conn.execute("SELECT coalesce(max(commit_id), 0) FROM commits WHERE group_id = ?",
                                    (group_id,)).fetchone()[0]
                conn.execute("INSERT INTO job_triggers (job_id, group_id, last_commit) VALUES (?,?,?)",
                             (job_id, group_id, last))

    def remove_schedule(self, job_id: int) -> bool:
        with self.db.write() as conn:
            conn.execute("DELETE FROM job_triggers WHERE job_id = ?", (job_id,))
            conn.execute(_DROP_TRIGGER_EDGES, (job_id,))
            return conn.execute("DELETE FROM job_schedules WHERE job_id = ?", (job_id,)).rowcount == 1

    def schedule(self, job_id: int) -> ScheduleRow | None:
        rows = self.db.query("SELECT * FROM job_schedules WHERE job_id = ?", (job_id,))
        return self._schedule(rows[0]) if rows else None

    def schedules(self) -> list[ScheduleRow]:
        return [self._schedule(r) for r in self.db.query("SELECT * FROM job_schedules WHERE enabled = 1 ORDER BY job_id")]

    def _schedule(self, row: Any) -> ScheduleRow:
        triggers = self.db.query("SELECT group_id, last_commit FROM job_triggers WHERE job_id = ? ORDER BY group_id",
                                 (row["job_id"],))
        return ScheduleRow(
            job_id=row["job_id"], cron=row["cron"], timezone=row["timezone"], start_at=row["start_at"],
            end_at=row["end_at"], catch_up=bool(row["catch_up"]), last_fire=row["last_fire"],
            enabled=bool(row["enabled"]), created_at=row["created_at"],
            triggers=tuple((t["group_id"], t["last_commit"]) for t in triggers),
        )

    def advance_fire(self, job_id: int, fire: str) -> None:
        """Move the schedule's last handled fire time forward (never back)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE job_schedules SET last_fire = ? WHERE job_id = ? AND (last_fire IS NULL OR last_fire < ?)",
                (fire, job_id, fire),
            )

    def advance_trigger(self, job_id: int, group_id: int, commit_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE job_triggers SET last_commit = ? WHERE job_id = ? AND group_id = ? AND last_commit < ?",
                (commit_id, job_id, group_id, commit_id),
            )
