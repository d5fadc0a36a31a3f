"""The parts of the key index (keyindex.py) that know nothing of tables: sorted runs of key
hashes with the (unit, row) of each entry, their geometric merging, hashing key tuples, and
the array helpers and size limit of a lookup.

Hashes come from DuckDB's ``hash()``; the index records DuckDB's version (``HASH_ID``) and is
rebuilt when it changes, because persisted hashes must agree across processes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import StorageError, ValidationError
from lakebox.offline import reader

HASH_ID = f"duckdb {duckdb.__version__} hash() {sys.byteorder}"  # a box may move to another machine
UNIT = np.int32
ROW = np.int32
EMPTY = np.zeros(0, np.int64)

@lru_cache(maxsize=1)
def max_rows() -> int:
    """Rows a group may have for its key index: 1/8 of this machine's memory in rows of 12
    bytes (24 GiB: ~268M rows; the runs are mapped, and a merge holds two in memory), at
    least 40M, or ``LAKEBOX_KEY_INDEX_MAX_ROWS``. A bigger group locates by reading key columns."""
    configured = os.environ.get("LAKEBOX_KEY_INDEX_MAX_ROWS")
    if configured:
        try:
            return max(int(configured), 0)
        except ValueError:
            raise ValidationError(
                f"LAKEBOX_KEY_INDEX_MAX_ROWS={configured!r} is not a number of rows; unset it or give an integer."
            ) from None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return max(40_000_000, memory // 8 // 12)


# Runs are not merged past this size: a merge copies both runs (~10 ns per entry: 0.25 s for
# 16M), while each run costs a probe ~30 ms per 1M-row batch. At 2M, a 10M-row group had 5
# runs (150 ms per probe) and a 40M-row one 20 (600 ms): probing grew with the group. At 16M,
# geometric merging keeps O(log) runs below it (two or three at 10M rows).
MERGE_MAX = 16_000_000


@dataclass
class Run:
    """Sorted key hashes, each with the unit and the row in that unit it came from."""

    hashes: np.ndarray  # uint64, ascending
    units: np.ndarray  # int32
    rows: np.ndarray  # int32
    name: str = ""  # its file in the index folder ("" until written)

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, needles: np.ndarray) -> np.ndarray:
        """Indices of the entries equal to one of the sorted ``needles`` (every entry of a
        hash: several units may hold one)."""
        stored = self.hashes
        if len(stored) == 0 or len(needles) == 0:
            return EMPTY
        if len(stored) <= len(needles):  # search the smaller side in the bigger one
            positions = np.minimum(np.searchsorted(needles, stored), len(needles) - 1)
            return np.flatnonzero(needles[positions] == stored)
        positions = np.minimum(np.searchsorted(stored, needles), len(stored) - 1)
        found = np.unique(needles[stored[positions] == needles])
        if len(found) == 0:
            return EMPTY
        low = np.searchsorted(stored, found, "left")
        lengths = np.searchsorted(stored, found, "right") - low
        return np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(low, lengths)

    def keep(self, mask: np.ndarray) -> Run:
        return Run(self.hashes[mask], self.units[mask], self.rows[mask])


def run_of(hashes: np.ndarray, unit: int, order: np.ndarray | None = None) -> Run:
    """The run of one unit whose row ``i`` has hash ``hashes[i]`` (``order``: their argsort, if known)."""
    if order is None:
        order = np.argsort(hashes, kind="stable")
    return Run(hashes[order], np.full(len(hashes), unit, UNIT), order.astype(ROW, copy=False))


def merged(runs: Sequence[Run]) -> Run:
    """One run holding the entries of ``runs`` (each sorted: the stable sort merges them)."""
    hashes = np.concatenate([r.hashes for r in runs])
    order = np.argsort(hashes, kind="stable")
    return Run(
        hashes[order],
        np.concatenate([r.units for r in runs])[order],
        np.concatenate([r.rows for r in runs])[order],
    )


def merge_tail(runs: list[Run]) -> list[Run]:
    """Merge the newest run into the one before while that one is at most twice as big (so
    there are O(log entries) runs and each entry is merged O(log entries) times). Returns the
    runs merged away (their files can go once the new state is written)."""
    dropped: list[Run] = []
    while len(runs) >= 2 and len(runs[-2]) <= 2 * len(runs[-1]) and len(runs[-2]) + len(runs[-1]) <= MERGE_MAX:
        newer, older = runs.pop(), runs.pop()
        dropped += [older, newer]
        runs.append(merged([older, newer]))
    return dropped


def at(units: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One uint64 per (unit, row): how tombstones name a stored row."""
    return (units.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64)


def gone_mask(tombstones: Sequence[np.ndarray], where: np.ndarray) -> np.ndarray:
    """Which of ``where`` (``at`` values) are in one of the sorted ``tombstones`` arrays."""
    mask = np.zeros(len(where), dtype=bool)
    for stones in tombstones:
        if len(stones) and len(where):
            positions = np.minimum(np.searchsorted(stones, where), len(stones) - 1)
            mask |= stones[positions] == where
    return mask


def hashes(keys: pa.Table) -> np.ndarray:
    """DuckDB's 64-bit hash of each row's key tuple (same types in, same hash out)."""
    con = reader.cursor()
    try:
        con.register("lakebox_keys", keys)
        return con.execute(_hash_sql(tuple(keys.column_names))).fetchnumpy()["h"].astype(np.uint64, copy=False)
    except duckdb.Error as e:
        raise StorageError(f"Hashing keys failed in DuckDB: {e}") from e
    finally:
        con.close()


@lru_cache(maxsize=64)
def _hash_sql(names: tuple[str, ...]) -> str:
    """The hashing query for key columns ``names`` (built once per key set: every commit hashes)."""
    columns = [exp.column(name, quoted=True) for name in names]
    return (
        exp.select(exp.Anonymous(this="hash", expressions=columns).as_("h")).from_("lakebox_keys").sql(dialect="duckdb")
    )


def by_unit(units: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(unit, indices of its entries)`` for each distinct unit, in O(n log n) (a loop of
    ``units == unit`` was O(units x entries): 1,000 small commits made a big update crawl)."""
    if len(units) == 0:
        return []
    order = np.argsort(units, kind="stable")
    distinct, starts = np.unique(units[order], return_index=True)
    return list(zip(distinct.tolist(), np.split(order, starts[1:]), strict=True))


def positions_table(paths: list[str], which: np.ndarray, positions: np.ndarray) -> pa.Table:
    """``(file_path, pos)`` rows: ``paths[which[i]]``, ``positions[i]``."""
    files = pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), pa.array(paths, pa.string()))
    return pa.table({"file_path": files.cast(pa.string()), "pos": pa.array(positions.astype(np.int64))})
