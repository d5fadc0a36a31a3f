"""Shared pieces of the job and scheduler tests: job files and waiting for conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEADLINE_S = 120.0

# Job functions that need nothing but the standard library (a worker starts in well under a
# second); each records what it did in files under the folder it is given.
JOB_FILE = '''
import os, sys, time
from pathlib import Path

def main(out, n=1, **params):
    print("hello from the job", n, sorted(params))
    Path(out, f"ran-{os.environ['LAKEBOX_EXECUTION_ID']}").write_text(str(n))

def fail(out, **params):
    print("about to fail")
    raise ValueError("boom in the job")

def plain(out):
    print("a function without window parameters")

def crash(out, **params):
    os.abort()

def flaky(out, failures=2, **params):
    count = Path(out, "attempts")
    done = int(count.read_text()) if count.exists() else 0
    count.write_text(str(done + 1))
    if done < failures:
        raise RuntimeError(f"failure {done + 1}")
    print("succeeded after", done, "failures")

def _started(out):
    # written whole, then renamed: a test that sees started-PID can read the pid from it
    Path(out, f".started-{os.getpid()}").write_text(str(os.getpid()))
    Path(out, f".started-{os.getpid()}").rename(Path(out, f"started-{os.getpid()}"))

def hang(out, **params):
    _started(out)
    while True:
        time.sleep(0.1)

def stubborn(out, **params):
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _started(out)
    while True:
        time.sleep(0.1)

def windowed(out, window_start, window_end, fail_on=None, **params):
    Path(out, "windows.txt").open("a").write(f"{window_start.isoformat()} {window_end.isoformat()}\\n")
    if fail_on is not None and window_start.isoformat().startswith(fail_on):
        raise RuntimeError("this window fails")

def scheduled(out, scheduled_for=None, window_start=None, window_end=None, **params):
    with Path(out, "runs.txt").open("a") as f:
        f.write(f"{scheduled_for.isoformat() if scheduled_for else None}\\n")
'''

# Writes rows keyed by a window's day at the window's start: re-running a window must
# replace its rows (the upsert by key and event time), never add copies.
WRITER_FILE = '''
import lakebox
import pyarrow as pa

def main(window_start, window_end, value=1):
    fs = lakebox.connect().get_feature_store()
    fg = fs.get_or_create_feature_group("daily", version=1, primary_key=["shop"], event_time="day",
                                        statistics=False)
    fg.insert(pa.table({"shop": [1, 2], "day": pa.array([window_start, window_start], pa.timestamp("us", "UTC")),
                        "sales": [value, value * 2]}))
'''


def write_jobs(folder: Path) -> Path:
    path = folder / "pipeline.py"
    path.write_text(JOB_FILE)
    return path


def wait_until(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it is truthy (a condition, not a duration: the deadline only
    turns a hang into a failure)."""
    end = time.monotonic() + deadline_s
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
