"""Starting an execution: record it, then start its supervisor, detached.

The caller takes the execution's lock (an ``flock`` on a fresh file) before the execution is
recorded, and hands the locked descriptor to the supervisor, which keeps it for its lifetime:
so there is no moment at which a recorded ``running`` execution has no live owner, and none at
which a dead one still looks alive. The supervisor runs in its own session, so the execution
goes on when the caller exits (``wait=False``) and a Ctrl+C in the caller's terminal does not
reach it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from lakebox.jobs.store import ExecutionRow, JobRow, JobStore

_children: list[subprocess.Popen[bytes]] = []
_children_lock = threading.Lock()


def _reap_children() -> None:
    """Collect supervisors of this process that have exited (no zombies in a long-lived scheduler)."""
    with _children_lock:
        _children[:] = [p for p in _children if p.poll() is None]


def child(pid: int) -> subprocess.Popen[bytes] | None:
    with _children_lock:
        return next((p for p in _children if p.pid == pid), None)


def start(
    store: JobStore,
    job: JobRow,
    trigger: str,
    params: dict[str, Any],
    *,
    claim: str | None = None,
    backfill_id: int | None = None,
    window: tuple[str, str] | None = None,
    require_idle: bool = False,
) -> ExecutionRow | None:
    """Record and start an execution of ``job``; None when ``claim`` is taken or (with
    ``require_idle``) another execution of the job is running."""
    import fcntl  # POSIX only

    _reap_children()
    root = store.root
    locks = root / ".locks" / "jobs"
    locks.mkdir(parents=True, exist_ok=True)
    lock_file = locks / f"{uuid.uuid4().hex}.lock"
    fd = os.open(lock_file, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        row = store.new_execution(
            job.id, trigger, params, str(lock_file.relative_to(root)), f"logs/jobs/{job.name}",
            claim=claim, backfill_id=backfill_id, window=window, require_idle=require_idle,
        )
        if row is None:
            lock_file.unlink(missing_ok=True)
            return None
        try:
            process = _spawn(root, row, fd)
        except BaseException as e:
            store.finish(row.id, "failed", error=f"Could not start the job's process: {e}")
            raise
        store.set_owner(row.id, process.pid)
        with _children_lock:
            _children.append(process)
        return store.execution(row.id)
    finally:
        os.close(fd)  # the supervisor holds the lock from here on


def _spawn(root: Path, row: ExecutionRow, fd: int) -> subprocess.Popen[bytes]:
    log = root / row.log
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lakebox.jobs.supervisor", str(root), str(row.id), str(fd)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
            start_new_session=True,
            cwd=os.getcwd(),
        )
