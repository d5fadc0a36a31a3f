"""Feature vectors: a view's groups joined on their keys inside one LMDB read transaction.

A ``ServingPlan`` is compiled once per view from the same logical plan as the view's offline
query, so the same columns come out in the same order. For one entry (the root group's
primary key, plus any passed values) it fetches the root's row, then each joined group's row
by keys taken from the entry or from an already fetched row, applies ``max_age`` relative to
the time of the request (online, "now" plays the spine's event time), and returns the
vector with a status: ``present``, ``missing`` (a group has no row for the key) or
``too_old`` (a row older than its join's ``max_age``).

Everything that can be decided per view is decided at compile time (where each output
column comes from, where each key comes from), so a lookup is a few LMDB gets, msgpack
decodes and list indexing: this is the path with a 100 µs p99 budget.
"""

from __future__ import annotations

import operator
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import lmdb
import msgpack

from lakebox.errors import StorageError, ValidationError
from lakebox.online.codec import EPOCH
from lakebox.online.store import OnlineStore
from lakebox.online.table import OnlineTable
from lakebox.query.plan import Plan

PRESENT, MISSING, TOO_OLD = "present", "missing", "too_old"
_EVENT = struct.Struct(">q")  # a value's prefix: its event time in UTC microseconds (online.codec)
_unpack = msgpack.unpackb  # raw=False is msgpack's default: str values come back as str
# an int64 key as online.codec.KeyCodec stores it: big-endian, sign bit flipped (sorts numerically)
_pack_u64 = struct.Struct(">Q").pack
_SIGN, _MIN_INT, _MAX_INT = 1 << 63, -(1 << 63), (1 << 63) - 1
_ENTRY = -1
# where an output value comes from, per fetched step row (values, event_us, keys)
_FEATURE, _KEY, _TIME, _FROM_ENTRY = 0, 1, 2, 3


@dataclass
class _Step:
    table: OnlineTable
    group: str
    key_sources: list[tuple[int, int, Any]]  # (step or _ENTRY, kind, ref) per primary-key column
    max_age_us: int | None


class ServingPlan:
    def __init__(self, store: OnlineStore, plan: Plan, tables: Mapping[str, OnlineTable | None], outputs: Sequence[str]):
        self.store = store
        self.outputs = list(outputs)
        self.entry_keys = list(plan.spine.primary_key)
        self._dbs = [t.name for t in tables.values() if t is not None]
        aliases = [plan.spine_alias, *[j.alias for j in plan.joins]]
        positions: dict[str, int] = {}
        self.steps: list[_Step] = []
        root_table = tables.get(plan.spine_alias)
        self._root = plan.spine_alias

        def source(alias: str, column: str) -> tuple[int, int, Any]:
            """How to find ``alias.column`` at lookup time."""
            if alias == self._root and column in plan.spine.primary_key:
                return (_ENTRY, _FROM_ENTRY, column)
            position = positions.get(alias)
            if position is None:
                return (_ENTRY, _FROM_ENTRY, column)  # not served online: the entry may pass it
            table = self.steps[position].table
            if column in table.features:
                return (position, _FEATURE, table.features.index(column))
            if column in table.primary_key:
                return (position, _KEY, table.primary_key.index(column))
            return (position, _TIME, None)

        if root_table is not None:
            positions[self._root] = 0
            self.steps.append(_Step(root_table, plan.spine.name, [source(self._root, k) for k in root_table.primary_key], None))
        for join in plan.joins:
            table = tables.get(join.alias)
            if table is None:
                continue
            keys = [source(join.left_alias, k) for k in join.left_keys]
            age = None if join.max_age is None else int(join.max_age.total_seconds() * 1_000_000)
            positions[join.alias] = len(self.steps)
            self.steps.append(_Step(table, join.relation.name, keys, age))
        by_name = {o.name: (o.alias, o.column) for o in plan.outputs}
        self._outputs = [source(*by_name.get(name, (self._root, name))) for name in self.outputs]
        self._segments = _segments(self._outputs)
        self._encoders = [step.table.keys.encoder() for step in self.steps]
        self._names = [step.table.name for step in self.steps]
        self._all_present = {step.group: PRESENT for step in self.steps}
        self._concat = False
        self._fast = self._compile_fast()
        del aliases

    def _compile_fast(self) -> tuple[list[tuple[Any, ...]], list[tuple[int, Any, int]]] | None:
        """The common case, decided once: every group keyed by one value of the entry (or one
        feature of a group fetched before it), values that are plain msgpack lists (no dates,
        times, decimals, hashed keys to decode), outputs taken from the entry or as runs of
        feature columns. A lookup is then one get and one ``unpackb`` per group and list
        slices into the vector. None: the view needs the general ``lookup``."""
        steps = []
        for step, encode in zip(self.steps, self._encoders, strict=True):
            if len(step.key_sources) != 1 or step.table.keys.may_be_long:
                return None
            if any(kind != "plain" for kind in step.table.values.kinds):
                return None
            position, kind, ref = step.key_sources[0]
            if position != _ENTRY and kind != _FEATURE:
                return None
            aged = step.max_age_us if step.max_age_us is not None and step.table.event_time is not None else None
            plain_int = step.table.keys.kinds == ["int"]  # packed inline below, as KeyCodec packs it
            steps.append((position, ref, encode, aged, len(step.table.values.features), step.group, plain_int))
        segments: list[tuple[int, Any, int]] = []
        for position, getter, width, where, refs in _segments(self._outputs, with_refs=True):
            if getter is None:
                if where[0] != _ENTRY:
                    return None
                segments.append((_ENTRY, where[2], 1))  # a value the entry carries
            elif list(refs) == list(range(steps[position][4])):
                segments.append((position, None, width))  # the whole row, in order
            else:
                segments.append((position, getter, width))
        # the simplest views: each group's whole row once, in group order -> one concatenation
        self._concat = [(p, g) for p, g, _ in segments] == [(i, None) for i in range(len(steps))]
        return steps, segments

    def lookup(
        self, txn: lmdb.Transaction[bytes], dbs: Sequence[Any], entry: Mapping[str, Any], now_us: int
    ) -> tuple[list[Any], str, dict[str, str]]:
        """(values in output order, overall status, status per group)."""
        fetched: list[Any] = []
        detail: dict[str, str] = {}
        status = PRESENT
        for step, db, encode in zip(self.steps, dbs, self._encoders, strict=True):
            keys = [_resolve(fetched, entry, s) for s in step.key_sources]
            raw = None if None in keys else txn.get(encode(keys), db=db)
            if raw is None:
                detail[step.group] = MISSING
                status = MISSING
                fetched.append(None)
                continue
            event_us = step.table.values.event_micros(raw)
            if step.max_age_us is not None and step.table.event_time is not None and event_us < now_us - step.max_age_us:
                detail[step.group] = TOO_OLD
                if status == PRESENT:
                    status = TOO_OLD
                fetched.append(None)
                continue
            detail[step.group] = PRESENT
            fetched.append((step.table.values.decode(raw), event_us, keys))
        vector: list[Any] = []
        for position, getter, width, where in self._segments:
            if getter is None:
                vector.append(_resolve(fetched, entry, where))
                continue
            row = fetched[position]
            if row is None:
                vector.extend([None] * width)
            elif width == 1:
                vector.append(getter(row[0]))
            else:
                vector.extend(getter(row[0]))
        return vector, status, detail

    def lookup_fast(
        self, txn: lmdb.Transaction[bytes], dbs: Sequence[Any], entry: Mapping[str, Any], now_us: int
    ) -> tuple[list[Any], str, dict[str, str]]:
        """``lookup`` for views ``_compile_fast`` accepted: same results, a third of the work."""
        steps, segments = self._fast  # type: ignore[misc]
        rows: list[Any] = []
        detail: dict[str, str] | None = None
        status = PRESENT
        get = txn.get
        for (position, ref, encode, aged, _, group, plain_int), db in zip(steps, dbs):
            if position == _ENTRY:
                key = entry.get(ref)
            else:
                row = rows[position]
                key = None if row is None else row[ref]
            if key is None:
                raw = None
            elif plain_int and type(key) is int and _MIN_INT <= key <= _MAX_INT:
                raw = get(_pack_u64(key + _SIGN), db=db)
            else:
                raw = get(encode((key,)), db=db)
            if raw is None:
                detail = dict(self._all_present) if detail is None else detail
                detail[group] = MISSING
                status = MISSING
                rows.append(None)
                continue
            if aged is not None and _EVENT.unpack_from(raw)[0] < now_us - aged:
                detail = dict(self._all_present) if detail is None else detail
                detail[group] = TOO_OLD
                if status == PRESENT:
                    status = TOO_OLD
                rows.append(None)
                continue
            rows.append(_unpack(raw[8:]))
        if detail is None and self._concat:
            vector = rows[0]  # a fresh list from msgpack: ours to extend
            for row in rows[1:]:
                vector.extend(row)
            return vector, status, self._all_present
        vector = []
        for position, getter, width in segments:
            if position == _ENTRY:
                vector.append(entry.get(getter))
                continue
            row = rows[position]
            if row is None:
                vector.extend([None] * width)
            elif getter is None:
                vector.extend(row)
            elif width == 1:
                vector.append(getter(row))
            else:
                vector.extend(getter(row))
        return vector, status, self._all_present if detail is None else detail

    def lookup_many(self, entries: Sequence[Mapping[str, Any]]) -> list[tuple[list[Any], str, dict[str, str]]]:
        now_us = time.time_ns() // 1000
        dbs = self.store.handles(self._names)
        txn = self.store.begin_read()
        try:
            if self._fast is not None:
                try:
                    if len(entries) == 1:
                        return [self.lookup_fast(txn, dbs, entries[0], now_us)]
                    return [self.lookup_fast(txn, dbs, entry, now_us) for entry in entries]
                except (ValueError, TypeError, IndexError, OverflowError):
                    pass  # a damaged value or an odd key: the general path says which, in its words
            return [self.lookup(txn, dbs, entry, now_us) for entry in entries]
        except lmdb.Error as e:
            raise StorageError(f"Online store read failed: {e}") from e
        finally:
            txn.abort()


def _segments(outputs: Sequence[tuple[int, int, Any]], with_refs: bool = False) -> list[Any]:
    """Runs of consecutive feature columns of one step become one ``itemgetter`` call
    (``with_refs``: each segment also carries the feature positions it takes)."""
    runs: list[list[Any]] = []
    for where in outputs:
        position, kind, ref = where
        if kind == _FEATURE and runs and runs[-1][0] == position and runs[-1][1] == _FEATURE:
            runs[-1][2].append(ref)
        else:
            runs.append([position, kind, [ref], where])
    segments = []
    for position, kind, refs, where in runs:
        segment: tuple[Any, Callable[[Any], Any] | None, int, Any]
        if kind == _FEATURE:
            segment = (position, operator.itemgetter(*refs), len(refs), where)
        else:
            segment = (position, None, 1, where)
        segments.append((*segment, refs) if with_refs else segment)
    return segments


def _resolve(fetched: list[Any], entry: Mapping[str, Any], where: tuple[int, int, Any]) -> Any:
    position, kind, ref = where
    if position == _ENTRY:
        return entry.get(ref)
    row = fetched[position]
    if row is None:
        return None
    if kind == _FEATURE:
        return row[0][ref]
    if kind == _KEY:
        return row[2][ref]
    return EPOCH + timedelta(microseconds=row[1])


def check_entry(entry: Any, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValidationError(f"A feature vector entry is a dict of primary key values such as {{{keys[0]!r}: 7}}.")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ValidationError(f"The entry {dict(entry)!r} lacks the primary key value(s) {missing}.", missing=missing)
    return entry
