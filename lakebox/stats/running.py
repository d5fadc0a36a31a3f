"""The running summary of a group after a commit: the one call the write path makes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from lakebox.stats.summary import Summary, summarize

__all__ = ["next_summary"]


def next_summary(
    previous: Summary | Mapping[str, Any] | None,
    batch: pa.Table | None,
    removed: pa.Table | None = None,
    forgotten: int = 0,
) -> Summary:
    """The group's summary after a commit, in O(len(batch) + len(removed)).

    Args:
        previous: the summary stored for the commit before (a ``Summary`` or its ``to_dict()``),
            or None for the first commit.
        batch: the rows the commit wrote (as stored), or None/empty for a delete.
        removed: the stored rows the commit replaced or deleted (``WriteResult.removed``), in the
            same columns as ``batch``; None or empty when it only added rows.
        forgotten: how many more stored rows the commit replaced or deleted that were not read
            (``Summary.forget``: the result is approximate).

    ``previous.subtract(summarize(removed)).merge(summarize(batch))``: exact parts stay exact, the
    rest is marked approximate (see ``Summary``). A rollback does not call this: it reuses the
    summary stored for the commit it returns to.
    """
    running = Summary.from_dict(previous) if isinstance(previous, Mapping) else (previous or Summary.empty())
    if removed is not None and removed.num_rows:
        running = running.subtract(summarize(removed))
    running = running.forget(forgotten)
    if batch is not None and (batch.num_rows or not running.features):
        running = running.merge(summarize(batch))
    return running
