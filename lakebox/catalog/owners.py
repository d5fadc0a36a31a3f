"""Owners of unfinished catalog rows (runs, pending training datasets): is the process alive?"""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True if a process with ``pid`` exists on this host (this process always is)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
