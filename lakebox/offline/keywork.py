"""Key-index work kept off a commit's path: indexing a batch while its Parquet is written,
and merging runs after the commit returned.

Why: persisting the index put its work on every insert. A 1M-row batch needs its hashes
sorted (argsort, ~0.1 s) and its run and key copy written (32 MB); and the geometric merges
that keep runs few copied ~2.5M entries per 1M inserted (up to 0.6 s when two big runs met).
On 2 cores that made inserts ~1.3x slower. ``Prepared`` does the first part in a thread
while pyiceberg writes the data files; ``Merger`` merges in a thread after the commit, taking
the group's write lock only to swap the merged run into the index (as LSM stores compact).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from lakebox.offline import keyruns, keystore
from lakebox.offline.keyruns import Run
from lakebox.priority import lower_this_thread

if TYPE_CHECKING:
    from lakebox.offline.lock import WriteLock

log = logging.getLogger(__name__)
# Merges up to this many entries run in the commit (under 2 ms); bigger ones in the background.
# Why: a background merge takes the lock and rewrites the state once more, and small commits
# make a small merge after nearly every commit (1,000 100-row commits: +10 ms each).
INLINE_MERGE_MAX = 65_536
MERGE_LOCK_TIMEOUT_S = 60.0  # a group busy longer skips the merge: its next commit asks again


class Prepared:
    """The run and key copy of one batch (unit ``unit``), built and written in a thread."""

    def __init__(self, folder: keystore.Folder, unit: int, keys: pa.Table, row_hashes: np.ndarray) -> None:
        self.unit = unit
        self.keys = keys
        self.rows = keys.num_rows
        self._folder = folder
        self._result: tuple[Run, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._work, args=(row_hashes,), name="lakebox-keyindex-prepare", daemon=True
        )
        self._thread.start()

    def _work(self, row_hashes: np.ndarray) -> None:
        try:
            run = keyruns.run_of(row_hashes, self.unit)
            run.name = self._folder.write_run(run.hashes, run.units, run.rows)
            self._result = (run, self._folder.write_table("keys", self.keys))
        except BaseException as e:  # noqa: BLE001 - re-raised by result()
            self._error = e

    def result(self) -> tuple[Run, str]:
        """The written run and the name of the key copy."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def discard(self) -> None:
        """Remove what it wrote (its commit did not land, or the index moved on)."""
        self._thread.join()
        if self._result is not None:
            self._folder.remove([self._result[0].name, self._result[1]])


def tail_to_merge(sizes: list[int], limit: int = keyruns.MERGE_MAX) -> int:
    """How many of the newest runs to merge into one: the geometric rule (merge the newest
    into the one before while that one is at most twice as big, up to ``limit`` entries),
    applied at once. 0 or 1: nothing to merge."""
    sizes = list(sizes)
    merged = 1
    while len(sizes) >= 2 and sizes[-2] <= 2 * sizes[-1] and sizes[-2] + sizes[-1] <= limit:
        sizes[-2:] = [sizes[-2] + sizes[-1]]
        merged += 1
    return merged


class Merger:
    """Merges an index's runs in one background thread at a time."""

    def __init__(
        self,
        lock: WriteLock,
        folder: keystore.Folder,
        pick: Callable[[], list[Run]],
        install: Callable[[list[Run], Run], bool],
    ) -> None:
        self._lock = lock
        self._folder = folder
        self._pick = pick  # under the lock: the runs to merge now (fewer than 2: none)
        self._install = install  # under the lock: swap them for the merged run; False if they are gone
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def request(self) -> None:
        """Merge if the runs call for it, unless a merge is running (it looks again when done)."""
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="lakebox-keyindex-merge")
            self._thread.start()

    def settle(self) -> None:
        """Wait for the running merge (tests and benchmarks read the runs after it)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        lower_this_thread()
        try:
            while True:
                with self._lock("merging the key index", timeout=MERGE_LOCK_TIMEOUT_S):
                    picked = self._pick()
                if len(picked) < 2:
                    return
                merged = keyruns.merged(picked)
                merged.name = self._folder.write_run(merged.hashes, merged.units, merged.rows)
                with self._lock("merging the key index", timeout=MERGE_LOCK_TIMEOUT_S):
                    if not self._install(picked, merged):
                        self._folder.remove([merged.name])
        except Exception:  # noqa: BLE001 - a merge is an optimisation: the runs stay as they are
            log.debug("a key index merge was skipped", exc_info=True)
