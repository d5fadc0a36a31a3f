"""Background threads yield the CPU to the work a caller waits for.

Why: on a 2-core laptop an insert's statistics job (~0.7 s of CPU per 1M rows) and the key
index's run merges ran at the priority of the next insert, beside it, and made it ~1.3x slower
than it had to be. Linux schedules threads individually, so a background thread can lower its
own priority (a higher nice value): it then runs on whatever the foreground leaves idle, and
still runs at full speed on an idle machine. Elsewhere this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICE = 10  # added to the process's nice value for this thread only


def lower_this_thread() -> None:
    """Lower the calling thread's CPU priority (Linux; a no-op elsewhere or when refused)."""
    if not sys.platform.startswith("linux"):
        return  # setpriority(PRIO_PROCESS, tid) is per thread only on Linux
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (OSError, AttributeError):
        pass
