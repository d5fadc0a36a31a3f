"""The worker process: runs trials of the training function and streams its output back.

Started with the ``spawn`` method (a fresh interpreter, never a forked copy of the caller's
SQLite, LMDB or CUDA state). It redirects file descriptors 1 and 2 into a pipe that a thread
reads line by line and sends to the caller, so prints, logging, warnings and C-level output of
the function all arrive live and in order. Messages (tuples) on the connection:

worker -> caller: ``("ready", pid)``, ``("log", line)``, ``("report", trial, step, value)``
(answered with ``("reply", stop)``), ``("result", dict)``, ``("fatal", traceback)`` (the
function could not be loaded). The ranks of a data-parallel run reuse ``OutputCapture`` and
``run_task`` under torch's launcher (``lakebox.experiment.node``).
caller -> worker: ``("task", dict)``, ``("reply", bool)``, ``("stop",)``.
"""

from __future__ import annotations

import math
import numbers
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lakebox.experiment import context, functions
from lakebox.experiment.context import EarlyStopped, Reporter, TrialContext

_MARKER = b"\x00lakebox-flush\x00"
MAX_LINE = 16_384
FLUSH_TIMEOUT_S = 5.0


class Channel:
    """The worker's end of the connection; sends are locked (the output thread sends too)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self.conn.send(message)

    def recv(self) -> Any:
        return self.conn.recv()


class OutputCapture:
    """File descriptors 1 and 2 into one pipe; a thread forwards each line as ``("log", line)``."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._flushed = threading.Event()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        # fresh line-buffered text streams over the pipe (the old ones may think they are seekable files)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        self._thread = threading.Thread(target=self._pump, name="lakebox-output", daemon=True)
        self._thread.start()

    def _emit(self, raw: bytes) -> None:
        self.channel.send(("log", raw.decode("utf-8", errors="replace").rstrip("\r")))

    def _pump(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read, 65_536)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.endswith(_MARKER):
                    if line[: -len(_MARKER)]:
                        self._emit(line[: -len(_MARKER)])
                    self._flushed.set()
                else:
                    self._emit(line)
            while len(buffer) > MAX_LINE:
                self._emit(buffer[:MAX_LINE])
                buffer = buffer[MAX_LINE:]
        if buffer:
            self._emit(buffer)

    def flush(self) -> None:
        """Wait until everything written so far has been sent (an unfinished line ends here)."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        self._flushed.clear()
        try:
            os.write(1, _MARKER + b"\n")
        except OSError:
            return
        self._flushed.wait(FLUSH_TIMEOUT_S)


def main(conn: Connection, worker_id: int, fn_bytes: bytes, env: dict[str, str]) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when to stop
    os.environ.update(env)
    channel = Channel(conn)
    capture = OutputCapture(channel)
    try:
        fn = functions.loads(fn_bytes)
    except BaseException:
        capture.flush()
        channel.send(("fatal", traceback.format_exc()))
        return
    channel.send(("ready", os.getpid()))
    while True:
        try:
            message = channel.recv()
        except (EOFError, OSError):
            break
        if message[0] != "task":
            break
        result = run_task(fn, message[1], channel, worker_id)
        capture.flush()
        channel.send(("result", result))
    capture.flush()


def run_task(
    fn: Any, task: dict[str, Any], channel: Any, worker_id: int, rank: int = 0, world_size: int = 1
) -> dict[str, Any]:
    """Call the function once for a trial (or a rank) and describe what happened (never raises)."""
    trial = task["trial"]

    def send_report(value: float, step: int) -> bool:
        channel.send(("report", trial, step, value))
        while True:
            message = channel.recv()
            if message[0] == "reply":
                return bool(message[1])

    info = task["context"]
    ctx = TrialContext(
        experiment_id=info["experiment_id"],
        experiment_name=info["experiment_name"],
        run=info["run"],
        trial=trial,
        worker=worker_id,
        box=info["box"],
        rank=rank,
        world_size=world_size,
        send_report=send_report if task.get("report", True) else None,
        logdir=task.get("tensorboard_dir"),
    )
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    start = time.perf_counter()
    status, error, out = "finished", None, None
    context.set_current(ctx)
    try:
        dataset = model = None
        if task.get("dataset") is not None:
            from lakebox.experiment.ablation import DatasetFactory

            dataset = DatasetFactory(**task["dataset"])
        if task.get("model") is not None:
            from lakebox.experiment.ablation import ModelFactory

            model = ModelFactory(**task["model"])
        kwargs = task["plan"].kwargs(task["hparams"], Reporter(), dataset, model)
        out = fn(**kwargs)
    except EarlyStopped:
        status = "pruned"
    except BaseException as e:  # the function's failure is the trial's result, not the worker's
        status = "failed"
        error = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        print(error, file=sys.stderr, end="", flush=True)
    finally:
        context.set_current(None)
        try:
            context.close_writer(ctx)
        except Exception as e:  # event files are a side channel: never fail the trial for them
            print(f"closing the TensorBoard writer failed: {e}", file=sys.stderr, flush=True)
    duration = time.perf_counter() - start
    if ctx.stop_requested and status == "finished":
        status = "pruned"
    metrics: dict[str, Any] = {}
    files: dict[str, str] = {}
    outputs: dict[str, Any] = {}
    if status == "finished":
        try:
            metrics, paths, outputs = split_result(out, task.get("metric"))
            if rank == 0 and paths and task.get("files_dir"):
                files = copy_files(paths, Path(task["artifacts_root"]), Path(task["files_dir"]))
                outputs.update({k: v for k, v in paths.items() if k not in files})
        except Exception:
            status, error = "failed", traceback.format_exc()
            print(error, file=sys.stderr, flush=True)
    return {
        "trial": trial,
        "rank": rank,
        "status": status,
        "metrics": metrics,
        "files": files,
        "outputs": outputs,
        "error": error,
        "steps": ctx.steps,
        "datasets": ctx.datasets,
        "models": ctx.models,
        "started_at": started_at,
        "duration_s": duration,
    }


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    size = getattr(value, "size", None)
    if callable(size):  # torch.Tensor.size() is a method; numel() counts elements
        numel = getattr(value, "numel", None)
        size = numel() if callable(numel) else None
    if callable(item) and size == 1:
        try:
            return _number(item())
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def split_result(out: Any, metric: str | None) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The returned value as ``(metrics, files, outputs)``: numbers are metrics, paths of existing
    files or folders are files, anything else is kept as an output."""
    from lakebox.errors import ValidationError

    if out is None:
        return {}, {}, {}
    number = _number(out)
    if number is not None:
        return {metric or "metric": number}, {}, {}
    if not isinstance(out, dict):
        raise ValidationError(
            f"The training function returned a {type(out).__name__}; return a dict of metrics and file paths "
            "(e.g. {'accuracy': 0.9, 'model': 'model.pt'}) or a single number."
        )
    metrics: dict[str, Any] = {}
    files: dict[str, str] = {}
    outputs: dict[str, Any] = {}
    for key, value in out.items():
        key = str(key)
        number = _number(value)
        if number is not None:
            metrics[key] = number if math.isfinite(number) else None
        elif isinstance(value, (str, os.PathLike)) and str(value) and os.path.exists(value):
            files[key] = os.path.abspath(value)
        else:
            outputs[key] = _jsonable(value)
    return metrics, files, outputs


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    number = _number(value)
    if number is not None:
        return number
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return _jsonable(tolist())
        except (TypeError, ValueError, RuntimeError):
            pass
    return repr(value)


def copy_files(paths: dict[str, str], artifacts_root: Path, folder: Path) -> dict[str, str]:
    """Copy returned files/folders into the run's artifacts; ``{key: path relative to artifacts/}``."""
    folder.mkdir(parents=True, exist_ok=True)
    copied: dict[str, str] = {}
    for key, source in paths.items():
        src = Path(source).resolve()
        if src.is_dir() and folder.resolve().is_relative_to(src):
            continue  # a folder holding the box itself (e.g. the box path): never copied into itself
        target = folder / src.name
        if target.exists() or not src.name:
            target = folder / f"{key}_{src.name or 'file'}"
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)
        copied[key] = str(target.relative_to(artifacts_root))
    return copied
