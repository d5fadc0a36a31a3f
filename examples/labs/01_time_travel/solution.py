"""Lab 1: time travel and rollback — the teacher's solution."""

from __future__ import annotations

from typing import Any


def create_prices(fs: Any) -> Any:
    """Create and return the feature group ``prices`` v1 (key ``item_id``, event time ``ts``)."""
    return fs.create_feature_group("prices", version=1, primary_key=["item_id"], event_time="ts")


def read_at(fg: Any, commit_id: int) -> Any:
    """The group's rows (a pandas DataFrame) as they were right after ``commit_id``."""
    return fg.read(wallclock_time=commit_id)


def rows_written(fg: Any, commit_id: int) -> int:
    """Rows inserted plus rows updated by ``commit_id``."""
    details = fg.commit_details()[commit_id]
    return int(details["rowsInserted"]) + int(details["rowsUpdated"])


def undo(fg: Any, bad_commit_id: int) -> Any:
    """Make the commit before ``bad_commit_id`` current again; return the new commit."""
    ids = [c.commit_id for c in fg.commits()]
    before = ids[ids.index(bad_commit_id) - 1]
    return fg.rollback(before)
