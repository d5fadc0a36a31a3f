"""Backfills: a job run once per time window over a range, in order.

Each window ``[window_start, window_end)`` is one execution, given to the function as the
parameters ``window_start`` and ``window_end`` (aware UTC datetimes). A window that does not
succeed stops the backfill: windows not yet started are not started, and the result says which
windows remain; ``resume=True`` later runs only the windows that have not succeeded before.
Re-running a window replaces its rows rather than duplicating them when the job writes by
event time (a feature group keeps one row per key and event time).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakebox.errors import ValidationError
from lakebox.jobs import launch
from lakebox.jobs.execution import MAX_POLL_S, Execution
from lakebox.jobs.store import ACTIVE, ExecutionRow, JobRow, JobStore, iso

MAX_WINDOWS = 100_000


def as_utc(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")), what)
        except ValueError as e:
            raise ValidationError(f"{what} {value!r} is not an ISO-8601 time such as 2026-01-01T00:00:00Z.") from e
    raise ValidationError(f"{what} must be a datetime, a date or an ISO-8601 string, got {type(value).__name__}.")


def windows(start: datetime, end: datetime, every: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into windows of ``every`` (the last one may be shorter)."""
    if not isinstance(every, timedelta) or every <= timedelta(0):
        raise ValidationError(f"every must be a positive timedelta, e.g. timedelta(days=1); got {every!r}.")
    if end <= start:
        raise ValidationError(f"A backfill's end ({iso(end)}) must be after its start ({iso(start)}).")
    if (end - start) / every > MAX_WINDOWS:
        raise ValidationError(f"That backfill has more than {MAX_WINDOWS} windows; choose a larger every=.")
    found = []
    cursor = start
    while cursor < end:
        found.append((cursor, min(cursor + every, end)))
        cursor += every
    return found


@dataclass
class Backfill:
    """What a backfill did. ``remaining``: the windows that have not succeeded (empty when
    ``succeeded``); run ``job.backfill(..., resume=True)`` to continue with them."""

    id: int
    job_name: str
    state: str  # succeeded | failed
    windows: list[tuple[datetime, datetime]]
    executions: list[Execution] = field(default_factory=list)
    skipped: list[tuple[datetime, datetime]] = field(default_factory=list)  # done before (resume)
    remaining: list[tuple[datetime, datetime]] = field(default_factory=list)
    failed_window: tuple[datetime, datetime] | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job_name,
            "state": self.state,
            "windows": len(self.windows),
            "skipped": [list(w) for w in self.skipped],
            "executions": [e.to_dict() for e in self.executions],
            "failed_window": list(self.failed_window) if self.failed_window else None,
            "remaining": [list(w) for w in self.remaining],
        }

    def __repr__(self) -> str:
        return (f"Backfill(job={self.job_name!r}, state={self.state!r}, windows={len(self.windows)}, "
                f"executions={len(self.executions)}, remaining={len(self.remaining)})")


def run(
    store: JobStore,
    job: JobRow,
    start: Any,
    end: Any,
    every: timedelta,
    parallelism: int,
    resume: bool,
    params: dict[str, Any],
) -> Backfill:
    begin, finish = as_utc(start, "start"), as_utc(end, "end")
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise ValidationError(f"parallelism must be a positive integer, got {parallelism!r}.")
    planned = windows(begin, finish, every)
    done = store.succeeded_windows(job.id) if resume else set()
    todo = [w for w in planned if (iso(w[0]), iso(w[1])) not in done]
    skipped = [w for w in planned if (iso(w[0]), iso(w[1])) in done]
    record = store.create_backfill(job.id, iso(begin), iso(finish), every.total_seconds(), parallelism, params)
    pending = deque(todo)
    in_flight: list[tuple[tuple[datetime, datetime], ExecutionRow]] = []
    finished: dict[tuple[datetime, datetime], ExecutionRow] = {}
    failed: tuple[datetime, datetime] | None = None
    try:
        while (pending and failed is None) or in_flight:
            while pending and failed is None and len(in_flight) < parallelism:
                window = pending.popleft()
                row = launch.start(store, job, "backfill", params, backfill_id=record.id,
                                   window=(iso(window[0]), iso(window[1])))
                assert row is not None  # neither a claim nor idleness was asked for
                in_flight.append((window, row))
            for window, row in _wait_any(store, in_flight):
                in_flight[:] = [(w, r) for w, r in in_flight if r.id != row.id]
                finished[window] = row
                if row.state != "succeeded" and (failed is None or window < failed):
                    failed = window
    finally:
        state = "succeeded" if failed is None and not pending and not in_flight else "failed"
        store.finish_backfill(record.id, state)
    executions = [Execution(store, finished[w], job.name) for w in todo if w in finished]
    remaining = [w for w in todo if w not in finished or finished[w].state != "succeeded"]
    return Backfill(record.id, job.name, state, planned, executions, skipped, remaining, failed)


def _wait_any(
    store: JobStore, in_flight: list[tuple[tuple[datetime, datetime], ExecutionRow]]
) -> list[tuple[tuple[datetime, datetime], ExecutionRow]]:
    """Wait until at least one in-flight execution is final; those that are, with their rows."""
    if len(in_flight) == 1:  # the common case: wait on its supervisor process
        from lakebox.jobs.execution import wait_for

        window, row = in_flight[0]
        return [(window, wait_for(store, row))]
    delay = 0.01
    while True:
        done = []
        for window, row in in_flight:
            process = launch.child(row.pid) if row.pid is not None else None
            if process is not None and process.poll() is None:
                continue
            current = store.execution(row.id)
            if current.state == ACTIVE:
                store.reap(current.job_id)
                current = store.execution(row.id)
            if current.state != ACTIVE:
                done.append((window, current))
        if done:
            return done
        time.sleep(delay)
        delay = min(delay * 2, MAX_POLL_S)
