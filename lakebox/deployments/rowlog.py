"""``RowLogger``: append rows to a feature group in batches, off the request path.

The public, engine-level logging API of lakebox: it knows nothing of deployments or api
objects, only a ``write(table)`` function (a feature group's ``insert``) and the Arrow
schema of the rows. Deployments log predictions with it; feature views can log served
feature vectors with it (issue 18)::

    logger = RowLogger(fg.insert, schema, max_rows=1000, max_seconds=1.0)
    logger.log({"pid": 7, "ts": ..., "age": 31})      # returns at once (a queue append)
    logger.flush()                                    # waits until everything logged is written

**Batching.** Rows wait in a bounded in-memory queue; a background thread writes them as
ONE commit when ``max_rows`` rows are waiting or the oldest has waited ``max_seconds``,
whichever comes first, on ``flush()`` and ``close()``, and at interpreter exit.

**Crash-loss window.** A process killed with SIGKILL (or a power cut) loses the rows not
yet committed: those logged since the last completed batch, i.e. at most ``max_rows`` rows
and at most ``max_seconds`` seconds of traffic when the writer keeps up (with the defaults,
1,000 rows or 1 second). Only if writing falls behind does the queue grow, up to
``max_queue`` rows; beyond that ``log`` waits up to ``block_s`` for room (back-pressure) and
then drops the row, counted in ``dropped``. A batch that fails to write is retried
``retries`` times and then dropped (counted in ``failed``, logged as an error): logging
never fails the request that logged.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from lakebox.errors import ValidationError

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_SECONDS = 1.0
DEFAULT_MAX_QUEUE = 100_000


class RowLogger:
    """Batches rows to ``write(pa.Table)`` from one background thread (see the module doc)."""

    def __init__(
        self,
        write: Callable[[pa.Table], Any],
        schema: pa.Schema,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        block_s: float = 1.0,
        retries: int = 2,
        name: str = "rows",
    ) -> None:
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValidationError(f"max_rows must be a positive integer, got {max_rows!r}.")
        if not isinstance(max_seconds, (int, float)) or max_seconds <= 0:
            raise ValidationError(f"max_seconds must be a positive number, got {max_seconds!r}.")
        if not isinstance(max_queue, int) or max_queue < max_rows:
            raise ValidationError(f"max_queue must be an integer >= max_rows ({max_rows}), got {max_queue!r}.")
        self.write = write
        self.schema = schema
        self.names = list(schema.names)
        self.max_rows = max_rows
        self.max_seconds = float(max_seconds)
        self.max_queue = max_queue
        self.block_s = block_s
        self.retries = retries
        self.name = name
        self.written = 0  # rows committed
        self.batches = 0
        self.dropped = 0  # rows refused because the queue stayed full
        self.failed = 0  # rows of batches that could not be written
        self.last_error: str | None = None
        self._queue: deque[list[Any]] = deque()
        self._oldest: float | None = None  # monotonic time the oldest waiting row arrived
        self._in_flight = 0
        self._flush_requested = 0
        self._closed = False
        self._last_us = 0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"lakebox-rowlog-{name}", daemon=True)
        self._thread.start()
        _live.add(self)
        _register_exit_flush()

    # -- logging (the request path) ----------------------------------------------------------
    def now_us(self) -> int:
        """A UTC time in microseconds, strictly increasing per logger (so two rows logged in
        the same microsecond never share an event time)."""
        now = time.time_ns() // 1000
        with self._cond:
            now = max(now, self._last_us + 1)
            self._last_us = now
        return now

    def log(self, row: Mapping[str, Any] | Sequence[Any]) -> bool:
        """Queue one row (a dict by column name, or values in schema order); False if dropped."""
        return self.log_many([row]) == 1

    def log_many(self, rows: Sequence[Mapping[str, Any] | Sequence[Any]]) -> int:
        """Queue rows; returns how many were accepted (the rest were dropped: queue full)."""
        values = [[r.get(n) for n in self.names] if isinstance(r, Mapping) else list(r) for r in rows]
        for v in values:
            if len(v) != len(self.names):
                raise ValidationError(f"A logged row has {len(v)} values; the schema has {len(self.names)} columns {self.names}.")
        accepted = 0
        deadline = time.monotonic() + self.block_s
        with self._cond:
            if self._closed:
                raise ValidationError(f"The {self.name} logger is closed.")
            for v in values:
                while len(self._queue) >= self.max_queue and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.notify_all()
                    self._cond.wait(left)
                if len(self._queue) >= self.max_queue or self._closed:
                    self.dropped += 1
                    continue
                if self._oldest is None:
                    self._oldest = time.monotonic()
                    self._cond.notify_all()  # the writer starts timing max_seconds
                self._queue.append(v)
                accepted += 1
            if len(self._queue) >= self.max_rows:
                self._cond.notify_all()
        if accepted < len(values):
            log.warning("%s logger: queue full (%d rows), dropped %d row(s)", self.name, self.max_queue, len(values) - accepted)
        return accepted

    # -- flushing --------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Rows logged but not yet committed (queued or being written)."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Write everything logged so far; True when it was all written (or failed for good)
        within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight:
                    if not self._thread.is_alive():
                        return False
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left if left is not None else 1.0)
            finally:
                self._flush_requested -= 1
        return True

    def close(self, timeout: float | None = 60.0) -> None:
        """Flush and stop the thread (idempotent); the logger takes no rows afterwards."""
        with self._cond:
            if self._closed and not self._thread.is_alive():
                return
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        _live.discard(self)

    def stats(self) -> dict[str, Any]:
        return {
            "written": self.written, "batches": self.batches, "pending": self.pending, "dropped": self.dropped,
            "failed": self.failed, "max_rows": self.max_rows, "max_seconds": self.max_seconds,
            "max_queue": self.max_queue, "last_error": self.last_error,
        }

    # -- the writer thread -------------------------------------------------------------------
    def _due(self) -> bool:
        if not self._queue:
            return False
        if self._closed or self._flush_requested or len(self._queue) >= self.max_rows:
            return True
        return self._oldest is not None and time.monotonic() - self._oldest >= self.max_seconds

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._closed and not self._queue:
                        return
                    wait = None if self._oldest is None else max(0.0, self.max_seconds - (time.monotonic() - self._oldest))
                    self._cond.wait(wait)
                batch = [self._queue.popleft() for _ in range(min(self.max_rows, len(self._queue)))]
                self._in_flight = len(batch)
                self._oldest = time.monotonic() if self._queue else None
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def _write(self, batch: list[list[Any]]) -> None:
        for attempt in range(self.retries + 1):
            try:
                columns = list(zip(*batch, strict=True))
                table = pa.Table.from_arrays(
                    [pa.array(list(col), type=field.type) for col, field in zip(columns, self.schema, strict=True)],
                    schema=self.schema,
                )
                self.write(table)
            except Exception as e:  # never let a logging failure reach the request that logged
                self.last_error = f"{type(e).__name__}: {e}"
                if attempt < self.retries:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                self.failed += len(batch)
                log.error("%s logger: dropped a batch of %d row(s) after %d attempts: %s",
                          self.name, len(batch), self.retries + 1, self.last_error)
                return
            self.written += len(batch)
            self.batches += 1
            return


_live: weakref.WeakSet[RowLogger] = weakref.WeakSet()


def _flush_at_exit() -> None:
    """Interpreter exit (a normal end, SIGTERM handled by a server, Ctrl+C) flushes every logger."""
    for logger in list(_live):
        try:
            logger.close(timeout=30.0)
        except Exception as e:  # pragma: no cover - best effort at exit
            log.error("%s logger: flush at exit failed: %s", logger.name, e)


_registered = False


def _register_exit_flush() -> None:
    """Flush at exit BEFORE thread pools shut down: ``concurrent.futures`` stops its workers
    in ``threading``'s exit hooks, which run before ``atexit`` ones, and a write needs them
    (pyiceberg, statistics). Hooks registered later run first."""
    global _registered
    if _registered:
        return
    _registered = True
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_flush_at_exit)
    atexit.register(_flush_at_exit)  # loggers still open (none, normally) and interpreters without the hook
