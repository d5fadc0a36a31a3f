"""Worker processes seen from the caller: start, feed, watch and stop them.

One event loop in the caller's thread waits on every worker's connection and process
sentinel at once (``multiprocessing.connection.wait``), so a worker that dies, hangs past
its deadline or sends output is noticed at once; output lines go to ``on_log`` as they come.
Workers use the ``spawn`` start method and are not daemons (a training function may start
DataLoader workers of its own); the pool terminates and joins them whatever happens.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from lakebox.experiment import worker as worker_module
from lakebox.experiment.errors import ExperimentError

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class Worker:
    id: int
    process: Any
    conn: Connection
    started: float
    ready_s: float | None = None
    task: Any = None
    task_started: float = 0.0
    killed_reason: str | None = None
    exited: bool = False
    pid: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        return self.ready_s is not None and self.task is None and not self.exited


class Pool:
    """Worker processes running one training function."""

    def __init__(self, fn_bytes: bytes, on_log: Callable[[Worker, str], None]) -> None:
        self.fn_bytes = fn_bytes
        self.on_log = on_log
        self.workers: dict[int, Worker] = {}

    def start(self, worker_id: int, env: dict[str, str]) -> Worker:
        old = self.workers.pop(worker_id, None)
        if old is not None:  # a replacement takes the id (and the log prefix) of a dead worker
            old.conn.close()
            old.process.close()
        parent_end, child_end = _CONTEXT.Pipe(duplex=True)
        process = _CONTEXT.Process(
            target=worker_module.main,
            args=(child_end, worker_id, self.fn_bytes, env),
            name=f"lakebox-worker-{worker_id}",
        )
        started = time.perf_counter()
        process.start()
        child_end.close()
        w = Worker(worker_id, process, parent_end, started)
        self.workers[worker_id] = w
        return w

    def alive(self) -> list[Worker]:
        return [w for w in self.workers.values() if not w.exited]

    def send(self, w: Worker, message: tuple[Any, ...]) -> None:
        try:
            w.conn.send(message)
        except (OSError, EOFError, BrokenPipeError):
            pass  # the worker died; its sentinel reports it

    def assign(self, w: Worker, task: Any, payload: dict[str, Any]) -> None:
        w.task = task
        w.task_started = time.perf_counter()
        self.send(w, ("task", payload))

    def kill(self, w: Worker, reason: str) -> None:
        """Stop a worker now (a hung or timed-out trial, or a failed distributed run)."""
        if w.killed_reason is None:
            w.killed_reason = reason
        if w.process.is_alive():
            w.process.kill()

    def wait(self, timeout: float | None) -> list[tuple[str, Worker, Any]]:
        """Block until something happens; returns ``(kind, worker, data)`` events in order.

        kinds: the worker's messages (``ready``, ``report``, ``result``, ``fatal``)
        with their tuple, and ``exit`` with the exit code once a process is gone (after all its
        messages). Output lines go to ``on_log`` directly.
        """
        alive = self.alive()
        if not alive:
            return []
        waitables: list[Any] = [w.conn for w in alive] + [w.process.sentinel for w in alive]
        ready = set(wait(waitables, timeout))
        events: list[tuple[str, Worker, Any]] = []
        for w in alive:
            if w.conn in ready or w.process.sentinel in ready:
                self._drain(w, events)
            if w.process.sentinel in ready and not w.exited:
                self._drain(w, events)
                w.process.join(STOP_TIMEOUT_S)
                w.exited = True
                events.append(("exit", w, w.process.exitcode))
        return events

    def _drain(self, w: Worker, events: list[tuple[str, Worker, Any]], log: bool = True) -> None:
        while True:
            try:
                if not w.conn.poll():
                    return
                message = w.conn.recv()
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "log":
                if log:
                    self.on_log(w, message[1])
            else:
                if kind == "ready":
                    w.ready_s = time.perf_counter() - w.started
                    w.pid = message[1]
                events.append((kind, w, message))

    def shutdown(self) -> None:
        """Ask workers to stop, then terminate whatever still runs; join and close everything.

        Output that arrives now is dropped (a trial's output always precedes its result), and
        nothing here calls back into the caller, so a second Ctrl-C cannot leave workers behind.
        """
        try:
            for w in self.workers.values():
                if w.task is not None and w.process.is_alive():
                    w.process.terminate()  # still running a trial: the caller is giving up on it
                elif not w.exited and w.process.is_alive():
                    self.send(w, ("stop",))
            deadline = time.monotonic() + STOP_TIMEOUT_S
            for w in self.workers.values():
                while not w.exited and w.process.is_alive() and time.monotonic() < deadline:
                    self._drain(w, [], log=False)  # keep the pipe flowing: a worker blocked on send never exits
                    w.process.join(0.05)
        finally:
            for w in self.workers.values():
                if w.process.is_alive():
                    w.process.terminate()
                    w.process.join(1.0)
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join()
                w.exited = True
                w.conn.close()
                w.process.close()
            self.workers.clear()


def fatal(w: Worker, message: tuple[Any, ...]) -> ExperimentError:
    text = message[1]
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    return ExperimentError(
        f"Worker {w.id} could not load the training function ({last}). The workers import it by name: make sure "
        "its module is importable (run scripts with `if __name__ == '__main__':` around the lagom call).",
        traceback=text,
    )
