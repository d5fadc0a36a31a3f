"""One group's rows in the online store: the latest row per primary key by event time.

A group is named by its uid, the Iceberg table name (``GroupRow.table_name``): random per
group, so a group created after a catalog restore never meets another group's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lmdb
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.online.codec import KeyCodec, ValueCodec, is_hashed, storage_key
from lakebox.online.store import OnlineStore, db_name


def latest_per_key(table: pa.Table, primary_key: Sequence[str], event_time: str | None) -> pa.Table:
    """The row with the greatest event time for each key (keys are unique per event time)."""
    if event_time is None or table.num_rows < 2:
        return table
    order = pc.sort_indices(table, sort_keys=[*[(k, "ascending") for k in primary_key], (event_time, "descending")])
    ordered = table.take(order)
    changed = None
    for key in primary_key:
        column = ordered.column(key)
        differs = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        changed = differs if changed is None else pc.or_(changed, differs)
    assert changed is not None
    first = pa.concat_arrays([pa.array([True]), changed.combine_chunks()])
    return ordered.filter(first)


class OnlineTable:
    def __init__(
        self, store: OnlineStore, uid: int | str, schema: pa.Schema, primary_key: Sequence[str], event_time: str | None
    ) -> None:
        self.store = store
        self.uid = uid
        self.name = db_name(uid)
        self.schema = schema
        self.primary_key = list(primary_key)
        self.event_time = event_time
        self.features = [n for n in schema.names if n not in self.primary_key and n != event_time]
        self.keys = KeyCodec(self.primary_key, [schema.field(k).type for k in self.primary_key])
        self.values = ValueCodec(schema, self.features, event_time)
        store.db(self.name)  # open outside any transaction (LMDB's rule)

    # -- writes -------------------------------------------------------------------------
    def upsert(self, rows: pa.Table, commit_id: int) -> int:
        """Apply an insert: per key the newest row wins; an older event never overwrites a
        newer one (late data). Returns the number of keys written."""
        latest = latest_per_key(rows, self.primary_key, self.event_time)
        keys, values = self._encode(latest)
        event = ValueCodec.event_micros

        def run(txn: lmdb.Transaction[bytes]) -> int:
            db = self.store.db(self.name)
            if txn.stat(db)["entries"] == 0:
                txn.cursor(db=db).putmulti(list(zip(keys, values, strict=True)))
                written = len(keys)
            else:
                written = 0
                for key, value in zip(keys, values, strict=True):
                    old = txn.get(key, db=db)
                    if old is None or event(old) <= event(value):
                        txn.put(key, value, db=db)
                        written += 1
            self.store.set_watermark(txn, self.uid, commit_id)
            return written

        return self.store.write(run, self.name)

    def replace_keys(self, affected: pa.Table, latest: pa.Table, commit_id: int) -> None:
        """After deletes: keys in ``affected`` take their row in ``latest`` or disappear."""
        removed = self.keys.encode_columns(affected)
        keys, values = self._encode(latest)

        def run(txn: lmdb.Transaction[bytes]) -> None:
            db = self.store.db(self.name)
            for key in removed:
                txn.delete(key, db=db)
            for key, value in zip(keys, values, strict=True):
                txn.put(key, value, db=db)
            self.store.set_watermark(txn, self.uid, commit_id)

        self.store.write(run, self.name)

    def rebuild(self, latest: pa.Table, commit_id: int) -> None:
        """Replace the group's whole content (one transaction: readers never see it half done)."""
        keys, values = self._encode(latest)
        pairs = sorted(zip(keys, values, strict=True))

        def run(txn: lmdb.Transaction[bytes]) -> None:
            db = self.store.db(self.name)
            txn.drop(db, delete=False)
            txn.cursor(db=db).putmulti(pairs, append=True)
            self.store.set_watermark(txn, self.uid, commit_id)

        self.store.write(run, self.name)

    def _encode(self, rows: pa.Table) -> tuple[list[bytes], list[bytes]]:
        """LMDB keys and values of ``rows``; a key stored hashed keeps its full bytes in the value."""
        plain = self.keys.plain_columns(rows)
        full = self.keys.full_keys(plain)
        keys = plain if full is None else [p if f is None else storage_key(p) for p, f in zip(plain, full, strict=True)]
        return keys, self.values.encode_table(rows, full)

    # -- reads --------------------------------------------------------------------------
    def get(self, txn: lmdb.Transaction[bytes], key_values: Sequence[Any]) -> tuple[list[Any], int] | None:
        """(feature values, event time in µs) for a key, or None."""
        plain = self.keys.plain(key_values)
        key = storage_key(plain)
        raw = txn.get(key, db=self.store.db(self.name))
        if raw is None:
            return None
        if is_hashed(key) and self.values.full_key(raw) != plain:
            return None  # another key with the same hash: not this key's row
        return self.values.decode(raw), ValueCodec.event_micros(raw)

    def scan(self) -> pa.Table:
        """Every row of the online table (keys decoded from the values' owners)."""
        from datetime import timedelta

        from lakebox.online.codec import EPOCH

        rows: list[dict[str, Any]] = []
        with self.store.read(self.name) as txn:
            for key, raw in txn.cursor(db=self.store.db(self.name)):
                values = self.values.decode(raw)
                row = dict(zip(self.features, values, strict=True))
                full = self.values.full_key(raw) if is_hashed(key) else key
                row.update(self.keys.decode(full or b""))
                if self.event_time is not None:
                    row[self.event_time] = EPOCH + timedelta(microseconds=ValueCodec.event_micros(raw))
                rows.append(row)
        table = pa.Table.from_pylist(rows, schema=self.schema) if rows else self.schema.empty_table()
        return table
