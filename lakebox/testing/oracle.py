"""A brute-force point-in-time join in plain Python: the reference oracle for the planner's SQL
and for ``lakebox.testing.assert_pit_correct`` (shipped, so a course checks joins against it).

It mirrors DESIGN §4 and nothing of the implementation: for every spine row, each feature group
contributes the row with the same key and the LATEST event time ``<=`` the spine's time
(inclusive), or nothing. With ``max_age``, a found row older than ``spine time - max_age`` counts
as nothing (the spine row stays). A group without an event time matches on its key only; a spine
without a time gets each group's latest row per key. Exactly one output per spine row, in spine
order. Quadratic on purpose: obviously right beats fast here.

>>> from datetime import datetime, timezone
>>> t = lambda d: datetime(2024, 1, d, tzinfo=timezone.utc)
>>> g = Group("g", keys=["k"], event_time="ts", rows=[{"k": 1, "ts": t(1), "x": 10}, {"k": 1, "ts": t(3), "x": 30}])
>>> [m["g"]["x"] if m["g"] else None for m in point_in_time([{"k": 1, "t": t(2)}, {"k": 1, "t": t(3)}, {"k": 2, "t": t(3)}], [g], "t")]
[10, 30, None]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Row = Mapping[str, Any]


@dataclass
class Group:
    """A feature group as the oracle sees it: its key columns, event time column and current rows.

    ``key_map`` names the spine column for each group key when they differ
    (``{"group_key": "spine_column"}``); by default a key is matched to the same-named spine column.
    """

    name: str
    keys: Sequence[str]
    event_time: str | None
    rows: Sequence[Row]
    key_map: Mapping[str, str] = field(default_factory=dict)

    def spine_key(self, spine_row: Row) -> tuple[Any, ...]:
        return tuple(spine_row[self.key_map.get(k, k)] for k in self.keys)

    def key(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.keys)


def _age_for(max_age: timedelta | Mapping[str, timedelta] | None, group: Group) -> timedelta | None:
    if max_age is None or isinstance(max_age, timedelta):
        return max_age
    return max_age.get(group.name)


def match(
    spine_row: Row,
    group: Group,
    spine_time: str | None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
) -> Row | None:
    """The one row of ``group`` that ``spine_row`` gets, or None."""
    key = group.spine_key(spine_row)
    if any(v is None for v in key):
        return None  # SQL equality: a null key matches nothing
    candidates = [r for r in group.rows if group.key(r) == key]
    if group.event_time is None:
        if len(candidates) > 1:
            raise AssertionError(f"{group.name}: a group without event time holds one row per key")
        return candidates[0] if candidates else None
    event_time = group.event_time
    if spine_time is None:  # no spine time: the latest row of the key
        return max(candidates, key=lambda r: r[event_time], default=None)
    at: datetime = spine_row[spine_time]
    eligible = [r for r in candidates if r[group.event_time] <= at]
    if not eligible:
        return None
    times = [r[group.event_time] for r in eligible]
    latest = max(eligible, key=lambda r: r[event_time])
    if times.count(latest[group.event_time]) > 1:
        raise AssertionError(f"{group.name}: two rows share key {key} and event time {latest[group.event_time]}")
    age = _age_for(max_age, group)
    if age is not None and latest[group.event_time] < at - age:
        return None
    return latest


def point_in_time(
    spine: Sequence[Row],
    groups: Sequence[Group],
    spine_time: str | None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
) -> list[dict[str, Row | None]]:
    """For each spine row (in order), ``{group name: matched row or None}``."""
    return [{g.name: match(row, g, spine_time, max_age) for g in groups} for row in spine]


def expected_rows(
    spine: Sequence[Row],
    spine_columns: Sequence[str],
    groups: Sequence[Group],
    features: Sequence[tuple[str, str]],
    spine_time: str | None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
) -> list[tuple[Any, ...]]:
    """Flat output rows: the spine's columns, then each ``(group name, feature)`` value (None if no match)."""
    matches = point_in_time(spine, groups, spine_time, max_age)
    out = []
    for row, found in zip(spine, matches, strict=True):
        values = [row[c] for c in spine_columns]
        for group_name, feature in features:
            hit = found[group_name]
            values.append(hit[feature] if hit is not None else None)
        out.append(tuple(values))
    return out


class GroupState:
    """The current rows of a group under DESIGN §4's write semantics.

    One row per (key, event time) — or per key without an event time; an insert replaces a row
    with the same identity and appends the others; a delete by key removes every event time of it,
    a delete by (key, event time) only that row.
    """

    def __init__(self, keys: Sequence[str], event_time: str | None) -> None:
        self.keys = list(keys)
        self.event_time = event_time
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def identity(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[k] for k in [*self.keys, *([self.event_time] if self.event_time else [])])

    def insert(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self._rows[self.identity(row)] = dict(row)

    def delete(self, keys: Iterable[Row]) -> int:
        """Delete by the key columns (and the event time, where a key row carries it)."""
        deleted = 0
        for key_row in keys:
            wanted = [*self.keys, *([self.event_time] if self.event_time and self.event_time in key_row else [])]
            for identity, row in list(self._rows.items()):
                if all(row[c] == key_row[c] for c in wanted):
                    del self._rows[identity]
                    deleted += 1
        return deleted

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rows.values()]

    def copy(self) -> GroupState:
        other = GroupState(self.keys, self.event_time)
        other._rows = {k: dict(v) for k, v in self._rows.items()}
        return other
