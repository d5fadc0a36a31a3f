"""The cross-process write lock of one feature group, which says who holds it.

A thin layer over ``filelock``: re-entrant within a process (every ``WriteLock`` of one path
shares one underlying lock, per thread), exclusive across processes. While held, a sidecar
file next to the lock records the holder's pid, host, activity and start time, so a writer
that times out gets a ``ConflictError`` naming who holds the lock, doing what, for how long —
never a raw ``filelock.Timeout``.

    lock = WriteLock(box.locks / "players.lock")
    with lock("insert"):
        ...
    with lock:  # activity "write"
        ...
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from lakebox.errors import ConflictError

DEFAULT_TIMEOUT_S = 120.0
HOLDER_SUFFIX = ".holder"


class WriteLock:
    """An exclusive, re-entrant, cross-process lock with a recorded holder."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT_S, name: str | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.name = name or self.path.stem
        self.holder_file = self.path.with_name(self.path.name + HOLDER_SUFFIX)
        # One FileLock per path in this process: two WriteLocks of one group (two api objects)
        # re-enter instead of deadlocking on the same flock.
        self._lock = FileLock(str(self.path), is_singleton=True)  # timeouts are passed per acquire
        self._local = threading.local()

    @property
    def lock_file(self) -> str:
        return str(self.path)

    @property
    def is_locked(self) -> bool:
        """True when this thread holds the lock."""
        return bool(self._lock.is_locked)

    def acquire(self, activity: str = "write", timeout: float | None = None) -> None:
        """Take the lock (re-entrant); raise ``ConflictError`` naming the holder on timeout."""
        wait = self.timeout if timeout is None else timeout
        try:
            self._lock.acquire(timeout=wait)
        except Timeout as e:
            raise ConflictError(self._busy_message(wait), lock_file=str(self.path), holder=self.holder()) from e
        if self._lock.lock_counter == 1:  # outermost acquisition: announce ourselves
            try:
                self._write_holder(activity)
            except BaseException:
                self._lock.release()
                raise

    def release(self) -> None:
        if self._lock.is_locked and self._lock.lock_counter == 1:
            try:
                self.holder_file.unlink(missing_ok=True)
            except OSError:
                pass  # a stale sidecar is harmless: it is only read when the lock is busy
        self._lock.release()

    def set_activity(self, activity: str) -> None:
        """Update what the holder says it is doing (call while holding the lock)."""
        if self._lock.is_locked:
            self._write_holder(activity, started=getattr(self._local, "started", None))

    @contextmanager
    def __call__(self, activity: str = "write", timeout: float | None = None) -> Iterator[WriteLock]:
        self.acquire(activity, timeout)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- the holder sidecar --------------------------------------------------------------
    def holder(self) -> dict[str, Any] | None:
        """What the sidecar says about the current holder (None if nobody recorded one)."""
        try:
            data = json.loads(self.holder_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_holder(self, activity: str, started: float | None = None) -> None:
        started = time.time() if started is None else started
        self._local.started = started
        record = {"pid": os.getpid(), "host": socket.gethostname(), "activity": activity, "since": started}
        tmp = self.holder_file.with_name(f"{self.holder_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.holder_file)

    def _busy_message(self, waited: float) -> str:
        holder = self.holder()
        if holder is None:
            who = "another process"
        else:
            held = max(0.0, time.time() - float(holder.get("since") or time.time()))
            where = f" on {holder.get('host')}" if holder.get("host") != socket.gethostname() else ""
            who = f"pid {holder.get('pid')}{where} ({holder.get('activity')}, held for {held:.0f} s)"
        return (
            f"The write lock of {self.name} is held by {who}; gave up after waiting {waited:.0f} s. "
            f"Retry when it finishes. If that process no longer runs, the lock is already free "
            f"(locks die with their process); lock file: {self.path}."
        )

    def __repr__(self) -> str:
        return f"WriteLock({str(self.path)!r})"


def holder_of(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The recorded holder of the lock at ``path`` (for `lakebox doctor`), or None."""
    try:
        data = json.loads(Path(str(path) + HOLDER_SUFFIX).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
