"""The process that runs a job's function once (``python -m lakebox.jobs.worker``).

Started by the supervisor with the spec in ``$LAKEBOX_JOB_SPEC`` (JSON) and its output going to
the execution's log file. Exit status 0: the function returned; 1: it raised (the traceback is
in the log, its last line in the spec's ``error_file``); 3: the supervisor died, so the worker
stops too instead of running on unobserved.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from lakebox.jobs import entry

EXIT_FAILED = 1
EXIT_ORPHANED = 3
WATCH_INTERVAL_S = 0.2


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL_S)
        if os.getppid() != parent:
            print("[lakebox] the supervising process died; stopping this job", file=sys.stderr, flush=True)
            os._exit(EXIT_ORPHANED)


def _decode(values: dict[str, Any], times: list[str]) -> dict[str, Any]:
    return {k: (datetime.fromisoformat(v.replace("Z", "+00:00")) if k in times and v is not None else v)
            for k, v in values.items()}


def _fail(error_file: str | None, message: str) -> None:
    if error_file:
        Path(error_file).write_text(message, encoding="utf-8")


def main() -> int:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="lakebox-parent-watch", daemon=True).start()
    spec = json.loads(os.environ["LAKEBOX_JOB_SPEC"])
    error_file = spec.get("error_file")
    box = Path(spec["box"])
    try:
        fn = entry.load(spec["kind"], spec["target"], spec["function"], box)
        context = _decode(spec.get("context", {}), spec.get("times", []))
        required = [n for n in spec.get("required", []) if n in context]
        taken = entry.accepted(fn, list(context))
        missing = [n for n in required if n not in taken]
        if missing:
            raise TypeError(
                f"{spec['function']}() must accept {', '.join(missing)} (a backfill passes each window's bounds); "
                f"add them as parameters, e.g. def {spec['function']}(window_start, window_end, **params)."
            )
        kwargs = {**spec.get("params", {}), **{k: context[k] for k in taken}}
        fn(**kwargs)
    except SystemExit as e:
        if e.code in (None, 0):
            return 0
        _fail(error_file, f"the job called sys.exit({e.code!r})")
        return EXIT_FAILED
    except BaseException as e:  # the function's failure is the execution's result
        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        _fail(error_file, last)
        return EXIT_FAILED
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
