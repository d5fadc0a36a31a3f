"""``Execution``: one run of a job, as recorded in the catalog (and waiting for it to end)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime
from typing import Any

from lakebox.errors import ConflictError
from lakebox.jobs import launch
from lakebox.jobs.store import ACTIVE, HOST, ExecutionRow, JobStore, lock_free, parse_time

MAX_POLL_S = 0.25


def wait_for(store: JobStore, row: ExecutionRow, timeout: float | None = None) -> ExecutionRow:
    """The execution's row once it is final (or when ``timeout`` seconds have passed)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    process = launch.child(row.pid) if row.pid is not None else None
    if process is not None:  # started by this process: wait on the supervisor itself
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return store.execution(row.id)
    delay = 0.01
    while True:
        current = store.execution(row.id)
        if current.state != ACTIVE:
            return current
        if store.reap(current.job_id):
            continue
        if deadline is not None and time.monotonic() >= deadline:
            return current
        time.sleep(delay)  # the state is in another process's hands: poll the catalog
        delay = min(delay * 2, MAX_POLL_S)


class Execution:
    """One run of a job: ``state`` is running, succeeded, failed, timed_out or killed."""

    def __init__(self, store: JobStore, row: ExecutionRow, job_name: str) -> None:
        self._store = store
        self._row = row
        self.job_name = job_name

    # -- identity and state ------------------------------------------------------------------
    @property
    def id(self) -> int:
        return self._row.id

    @property
    def number(self) -> int:
        """1, 2, 3, ... per job."""
        return self._row.number

    @property
    def state(self) -> str:
        if self._row.state == ACTIVE:
            self.refresh()
        return self._row.state

    @property
    def done(self) -> bool:
        return self.state != ACTIVE

    @property
    def success(self) -> bool:
        return self.state == "succeeded"

    @property
    def trigger(self) -> str:
        """manual, backfill, schedule or commit."""
        return self._row.trigger

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._row.params)

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        start, end = parse_time(self._row.window_start), parse_time(self._row.window_end)
        return (start, end) if start is not None and end is not None else None

    @property
    def start(self) -> datetime | None:
        return parse_time(self._row.started_at or self._row.created_at)

    @property
    def end(self) -> datetime | None:
        return parse_time(self._row.finished_at)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (so far, while running)."""
        if self._row.duration_s is not None:
            return self._row.duration_s
        start = self.start
        return None if start is None else (datetime.now(start.tzinfo) - start).total_seconds()

    @property
    def attempts(self) -> int:
        return self._row.attempts

    @property
    def error(self) -> str | None:
        return self._row.error

    @property
    def exit_code(self) -> int | None:
        return self._row.exit_code

    @property
    def commits(self) -> list[dict[str, Any]]:
        """The commits this execution made: ``{"feature_group", "version", "commit_id"}``."""
        return [
            {"feature_group": c.group_name, "version": c.group_version, "commit_id": c.commit_id}
            for c in self._store.commits(self.id)
        ]

    @property
    def log_path(self) -> str:
        return str(self._store.root / self._row.log)

    def logs(self, tail: int | None = None) -> str:
        """The execution's output (the function's prints, logging and tracebacks, and lakebox's
        own lines about attempts); ``tail``: only the last lines."""
        try:
            text = (self._store.root / self._row.log).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-tail:])
        return text

    def download_logs(self, path: str | None = None) -> str:
        """Copy the log to ``path`` (default: ``<job>_<number>.log`` here); returns the path
        (the Hopsworks name; ``logs()`` returns the text)."""
        from pathlib import Path

        target = Path(path) if path is not None else Path(f"{self.job_name}_{self.number}.log")
        target.write_text(self.logs(), encoding="utf-8")
        return str(target)

    # -- control --------------------------------------------------------------------------
    def refresh(self) -> Execution:
        self._row = self._store.execution(self.id)
        if self._row.state == ACTIVE and self._store.reap(self._row.job_id):
            self._row = self._store.execution(self.id)
        return self

    def wait(self, timeout: float | None = None) -> Execution:
        """Block until the execution ends (or ``timeout`` seconds pass); returns itself."""
        self._row = wait_for(self._store, self._row, timeout)
        return self

    def kill(self, wait: bool = True) -> Execution:
        """Stop the execution; it is recorded as ``killed``."""
        row = self.refresh()._row
        if row.state != ACTIVE:
            return self
        if row.host not in (None, HOST):
            raise ConflictError(
                f"Execution {row.number} of job {self.job_name} runs on host {row.host}; kill it from there."
            )
        self._store.request_kill(row.id)
        # The supervisor's pid is recorded once it runs; one that starts later sees the request
        # itself. Signal only a pid recorded for this execution while its lock is held.
        row = self._store.execution(row.id)
        if row.state == ACTIVE and row.pid is not None and not lock_free(self._store.lock_path(row)):
            try:
                os.kill(row.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.wait() if wait else self

    def to_dict(self) -> dict[str, Any]:
        window = self.window
        return {
            "job": self.job_name,
            "id": self.id,
            "number": self.number,
            "state": self.state,
            "trigger": self.trigger,
            "params": self.params,
            "window_start": window[0] if window else None,
            "window_end": window[1] if window else None,
            "start": self.start,
            "end": self.end,
            "duration_s": self.duration,
            "attempts": self.attempts,
            "exit_code": self.exit_code,
            "error": self.error,
            "commits": self.commits,
            "log": self.log_path,
        }

    def __repr__(self) -> str:
        return f"Execution(job={self.job_name!r}, number={self.number}, state={self._row.state!r})"
