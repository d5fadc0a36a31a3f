"""The process that supervises one execution (``python -m lakebox.jobs.supervisor BOX ID FD``).

Started detached (its own session) by ``lakebox.jobs.launch``, it inherits file descriptor FD
holding the execution's lock, and keeps it until it exits: while it lives the execution is
``running``; if it dies without recording an end, any reader sees the lock free and records
the execution as ``killed``. It runs the function in a worker process per attempt, enforces
the timeout, retries failures with exponential backoff, records the commits each attempt made
and the final state. Its output and the worker's go to the execution's log file.

SIGTERM (``execution.kill()``) stops the worker and records ``killed``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.db import CatalogDB
from lakebox.jobs import commits as commit_log
from lakebox.jobs.store import ExecutionRow, JobRow, JobStore

TIMES = ("window_start", "window_end", "scheduled_for")
KILL_GRACE_S = 5.0
POLL_S = 0.2
_KILL_SIGNALS = {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def say(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    print(f"[lakebox {stamp}] {message}", flush=True)


class Supervisor:
    def __init__(self, box: Path, execution_id: int) -> None:
        self.box = box
        self.db = CatalogDB(box / "catalog.db", create=False)
        self.store = JobStore(self.db, box)
        self.execution_id = execution_id
        self.stop = threading.Event()
        self.worker: subprocess.Popen[bytes] | None = None

    def on_term(self, signum: int, frame: Any) -> None:
        self.stop.set()
        self._kill_worker()

    def _kill_worker(self) -> None:
        """SIGTERM to the worker's process group, and SIGKILL if it is still there after a grace."""
        worker = self.worker
        if worker is None or worker.poll() is not None:
            return
        _signal_group(worker.pid, signal.SIGTERM)  # the worker leads its own process group

        def kill_if_alive() -> None:
            if worker.poll() is None:
                _signal_group(worker.pid, signal.SIGKILL)

        timer = threading.Timer(KILL_GRACE_S, kill_if_alive)
        timer.daemon = True
        timer.start()

    def run(self) -> int:
        row = self.store.execution(self.execution_id)
        job = self.store.job_by_id(row.job_id)
        self.store.set_started(row.id)
        total = job.retries + 1
        state, exit_code, error = "failed", None, None
        for attempt in range(1, total + 1):
            if self.stop.is_set() or self.store.execution(row.id).kill_requested:
                state, error = "killed", "Killed before the attempt started."
                break
            state, exit_code, error = self.attempt(job, row, attempt, total)
            if state in ("succeeded", "killed") or attempt == total:
                break
            delay = job.retry_delay_s * (2 ** (attempt - 1))
            say(f"attempt {attempt} of {total} {state.replace('_', ' ')}; retrying in {delay:g} s")
            if self.stop.wait(delay):
                state, error = "killed", "Killed while waiting to retry."
                break
        say(f"execution {row.number} of job {job.name}: {state}" + (f" ({error})" if error else ""))
        self.store.finish(row.id, state, exit_code, error)
        try:
            self.store.lock_path(row).unlink(missing_ok=True)
        except OSError:
            pass
        return 0

    def attempt(self, job: JobRow, row: ExecutionRow, attempt: int, total: int) -> tuple[str, int | None, str | None]:
        error_file = self.box / f"{row.log}.error"
        error_file.unlink(missing_ok=True)
        spec = {
            "box": str(self.box),
            "kind": job.kind,
            "target": job.target,
            "function": job.function,
            "params": {**job.params, **row.params},
            "context": _context(row),
            "times": list(TIMES),
            "required": ["window_start", "window_end"] if row.trigger == "backfill" else [],
            "error_file": str(error_file),
        }
        env = {
            **os.environ,
            "LAKEBOX_HOME": str(self.box),
            "LAKEBOX_JOB": job.name,
            "LAKEBOX_EXECUTION_ID": str(row.id),
            "LAKEBOX_JOB_SPEC": json.dumps(spec),
            "PYTHONUNBUFFERED": "1",
        }
        say(f"attempt {attempt} of {total}: running {job.target}" + (f" {job.function}()" if job.kind == "file" else ""))
        started = datetime.now(UTC)
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "lakebox.jobs.worker"], env=env, stdin=subprocess.DEVNULL, process_group=0
        )
        self.store.set_attempt(row.id, attempt, self.worker.pid)
        if self.stop.is_set() or self.store.execution(row.id).kill_requested:
            self.stop.set()  # a kill requested before this process's pid was known to the killer
            self._kill_worker()
        timed_out = False
        try:
            self.worker.wait(timeout=job.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            say(f"timed out after {job.timeout_s:g} s; stopping the job")
            self._kill_worker()
            self.worker.wait()
        code = self.worker.returncode
        self._record_commits(job, row, self.worker.pid, started)
        if self.stop.is_set() or self.store.execution(row.id).kill_requested:
            return "killed", code, "Killed on request."
        if timed_out:
            return "timed_out", code, f"Timed out after {job.timeout_s:g} s."
        if code == 0:
            return "succeeded", 0, None
        if code < 0:
            name = signal.Signals(-code).name
            if -code in _KILL_SIGNALS:
                return "killed", code, f"The job's process was killed ({name})."
            return "failed", code, f"The job's process crashed ({name})."
        message = error_file.read_text(encoding="utf-8") if error_file.exists() else f"exit status {code}"
        error_file.unlink(missing_ok=True)
        return "failed", code, message

    def _record_commits(self, job: JobRow, row: ExecutionRow, pid: int, started: datetime) -> None:
        try:
            made = commit_log.made_by(self.store, self.box, pid, started, datetime.now(UTC), row.id)
            if made:
                self.store.record_commits(row.id, made)
                commit_log.link_lineage(AssetStore(self.db), job.id, made, row.number)
                say("commits: " + ", ".join(f"{c.group_name} v{c.group_version} #{c.commit_id}" for c in made))
        except Exception as e:  # noqa: BLE001 - lineage is derived; the execution's state matters more
            say(f"could not record the commits this attempt made: {e}")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _context(row: ExecutionRow) -> dict[str, Any]:
    context: dict[str, Any] = {"execution_id": row.id}
    if row.window_start is not None:
        context["window_start"] = row.window_start
        context["window_end"] = row.window_end
    if row.trigger == "schedule":
        context["scheduled_for"] = row.window_end
    return context


def main(argv: list[str]) -> int:
    box, execution_id, lock_fd = Path(argv[0]), int(argv[1]), int(argv[2])
    os.set_inheritable(lock_fd, False)  # the worker must not keep the lock alive
    supervisor = Supervisor(box, execution_id)
    signal.signal(signal.SIGTERM, supervisor.on_term)
    signal.signal(signal.SIGINT, supervisor.on_term)
    try:
        return supervisor.run()
    except BaseException as e:
        say(f"the supervisor failed: {e!r}")
        supervisor.store.finish(execution_id, "failed", None, f"The job's supervisor failed: {e}")
        raise
    finally:
        os.close(lock_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
