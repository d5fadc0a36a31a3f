"""A plain-Python model of a feature group's history: the oracle for the property tests.

State after each commit is a dict from the row's key ((pk, event time), or (pk,) without an
event time) to the whole row. Commit ``i`` (1-based) produced ``states[i]``; ``states[0]`` is
the empty group before any commit. The model mirrors the documented semantics (DESIGN §4) and
nothing of the implementation: one row per key, inserts replace or append, deletes by key or by
(key, event time), rollback copies an old state as a new commit, compaction changes no rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = tuple[Any, ...]


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass
class HistoryModel:
    """The expected history of one group whose rows are ``(pk, event_time, *values)`` or ``(pk, *values)``."""

    has_event_time: bool
    states: list[dict[Row, Row]] = field(default_factory=lambda: [{}])

    def key(self, row: Row) -> Row:
        return row[:2] if self.has_event_time else row[:1]

    @property
    def current(self) -> dict[Row, Row]:
        return self.states[-1]

    @property
    def last_commit(self) -> int:
        return len(self.states) - 1

    def insert(self, batch: Sequence[Row]) -> Counts:
        """Always a commit: existing keys are replaced (updated), new keys appended (inserted)."""
        state = dict(self.current)
        counts = Counts()
        for row in batch:
            if self.key(row) in state:
                counts.updated += 1
            else:
                counts.inserted += 1
            state[self.key(row)] = row
        self.states.append(state)
        return counts

    def delete(self, keys: Iterable[Row]) -> Counts | None:
        """Delete rows whose leading columns equal one of ``keys`` (pk only, or pk and event time).

        Returns None (and makes no commit) when nothing matched.
        """
        wanted = set(keys)
        state = {k: r for k, r in self.current.items() if not any(k[: len(w)] == w for w in wanted)}
        deleted = len(self.current) - len(state)
        if deleted == 0:
            return None
        self.states.append(state)
        return Counts(deleted=deleted)

    def rollback(self, commit_id: int) -> Counts:
        """A new commit whose state equals commit ``commit_id``'s; counts are by key."""
        target = self.states[commit_id]
        counts = Counts(
            inserted=len(target.keys() - self.current.keys()),
            deleted=len(self.current.keys() - target.keys()),
        )
        self.states.append(dict(target))
        return counts

    def compact(self) -> None:
        """A 'compact' commit (when the store made one): same rows."""
        self.states.append(dict(self.current))

    def rows_at(self, commit_id: int) -> list[Row]:
        """The rows after ``commit_id``, ordered by key (the order ``fg.read`` returns)."""
        state = self.states[commit_id]
        return [state[k] for k in sorted(state)]

    def changes(self, since: int, until: int) -> list[Row]:
        """Rows present at ``until`` that were not present, identical, at ``since``; by key."""
        old = set(self.states[since].values())
        return sorted((r for r in self.states[until].values() if r not in old), key=self.key)
