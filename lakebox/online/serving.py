"""Feature vectors: a view's groups joined on their keys inside one LMDB read transaction.

A ``ServingPlan`` is compiled once per view from the same logical plan as the view's offline
query, so the same columns come out in the same order. For one entry (the root group's
primary key, plus any passed values) it fetches the root's row, then each joined group's row
by keys taken from the entry or from an already fetched row, applies ``max_age`` relative to
the time of the request (online, "now" plays the spine's event time), and returns the
vector with a status: ``present``, ``missing`` (a group has no row for the key) or
``too_old`` (a row older than its join's ``max_age``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lmdb

from lakebox.errors import ValidationError
from lakebox.online.codec import EPOCH
from lakebox.online.store import OnlineStore
from lakebox.online.table import OnlineTable
from lakebox.query.plan import Plan

PRESENT, MISSING, TOO_OLD = "present", "missing", "too_old"


@dataclass
class _Step:
    alias: str
    table: OnlineTable | None  # None: not online (only its keys/labels are used)
    group: str
    key_sources: list[tuple[str, str]]  # (alias or "entry", column) per primary-key column
    max_age_us: int | None
    columns: dict[str, int]  # feature column -> index in the decoded value list


class ServingPlan:
    def __init__(self, store: OnlineStore, plan: Plan, tables: Mapping[str, OnlineTable | None], outputs: Sequence[str]):
        self.store = store
        self.outputs = list(outputs)
        self.steps: list[_Step] = []
        self._dbs = [t.name for t in tables.values() if t is not None]
        root = plan.spine
        root_table = tables.get(plan.spine_alias)
        self.entry_keys = list(root.primary_key)
        self.steps.append(
            _Step(
                plan.spine_alias,
                root_table,
                root.name,
                [("entry", k) for k in root.primary_key],
                None,
                {f: i for i, f in enumerate(root_table.features)} if root_table else {},
            )
        )
        for join in plan.joins:
            table = tables.get(join.alias)
            sources = []
            for left_key, right_key in zip(join.left_keys, join.right_keys, strict=True):
                del right_key
                sources.append((join.left_alias, left_key))
            age = join.max_age
            self.steps.append(
                _Step(
                    join.alias,
                    table,
                    join.relation.name,
                    sources,
                    None if age is None else int(age.total_seconds() * 1_000_000),
                    {f: i for i, f in enumerate(table.features)} if table else {},
                )
            )
        self._where: dict[str, tuple[str, str]] = {}
        for out in plan.outputs:
            if out.name in self.outputs:
                self._where[out.name] = (out.alias, out.column)

    def _value(self, rows: dict[str, Any], entry: Mapping[str, Any], alias: str, column: str) -> Any:
        if alias == self.steps[0].alias and column in entry:
            return entry[column]
        fetched = rows.get(alias)
        if fetched is None:
            return None
        step_row, step = fetched
        if column in step.columns:
            return step_row[0][step.columns[column]]
        if step.table is not None and column in step.table.primary_key:
            return step_row[2][column]
        if step.table is not None and column == step.table.event_time:
            from datetime import timedelta

            return EPOCH + timedelta(microseconds=step_row[1])
        return None

    def lookup(self, txn: lmdb.Transaction, entry: Mapping[str, Any], now_us: int) -> tuple[dict[str, Any], str, dict[str, str]]:
        """(values by output column, overall status, status per group)."""
        rows: dict[str, Any] = {}
        detail: dict[str, str] = {}
        status = PRESENT
        for step in self.steps:
            if step.table is None:
                continue
            keys = []
            for source, column in step.key_sources:
                value = entry.get(column) if source == "entry" else self._value(rows, entry, source, column)
                if value is None and source != "entry" and column in entry:
                    value = entry[column]
                keys.append(value)
            if any(k is None for k in keys):
                detail[step.group] = MISSING
                status = MISSING
                continue
            found = step.table.get(txn, keys)
            if found is None:
                detail[step.group] = MISSING
                status = MISSING
                continue
            values, event_us = found
            if step.max_age_us is not None and step.table.event_time is not None and event_us < now_us - step.max_age_us:
                detail[step.group] = TOO_OLD
                if status == PRESENT:
                    status = TOO_OLD
                continue
            detail[step.group] = PRESENT
            rows[step.alias] = ((values, event_us, dict(zip(step.table.primary_key, keys, strict=True))), step)
        vector = {}
        for name in self.outputs:
            alias, column = self._where.get(name, (self.steps[0].alias, name))
            vector[name] = self._value(rows, entry, alias, column)
        return vector, status, detail

    def lookup_many(self, entries: Sequence[Mapping[str, Any]]) -> list[tuple[dict[str, Any], str, dict[str, str]]]:
        now_us = int(time.time() * 1_000_000)
        with self.store.read(*self._dbs) as txn:
            return [self.lookup(txn, entry, now_us) for entry in entries]


def check_entry(entry: Any, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValidationError(f"A feature vector entry is a dict of primary key values such as {{{keys[0]!r}: 7}}.")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ValidationError(f"The entry {dict(entry)!r} lacks the primary key value(s) {missing}.", missing=missing)
    return entry
