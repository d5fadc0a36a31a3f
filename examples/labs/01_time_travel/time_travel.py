"""Lab 1: time travel and rollback. Fill in each function marked TODO (see README.md)."""

from __future__ import annotations

from typing import Any


def create_prices(fs: Any) -> Any:
    """Create and return the feature group ``prices`` v1 (key ``item_id``, event time ``ts``)."""
    raise NotImplementedError("TODO: exercise 1")


def read_at(fg: Any, commit_id: int) -> Any:
    """The group's rows (a pandas DataFrame) as they were right after ``commit_id``."""
    raise NotImplementedError("TODO: exercise 2")


def rows_written(fg: Any, commit_id: int) -> int:
    """Rows inserted plus rows updated by ``commit_id``."""
    raise NotImplementedError("TODO: exercise 3")


def undo(fg: Any, bad_commit_id: int) -> Any:
    """Make the commit before ``bad_commit_id`` current again; return the new commit."""
    raise NotImplementedError("TODO: exercise 4")
