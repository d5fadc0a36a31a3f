"""A persistent index of the (key, event time) pairs a group's data files hold, with the row
of each: a batch finds the stored rows it replaces in O(batch), in any process.

Why: with random keys, file statistics prune nothing, so finding what a batch touches meant
reading the key columns of the whole group (locate.py): a 1,000-row commit into 10M rows cost
O(10M). An index held in each process's memory fixed inserts but was rebuilt by every new
process (2.5 s at 10M rows) and only named candidate *files*, whose key columns an update
still read. This one is kept on disk (keystore.py) with the row of every entry and a copy of
the key columns, so neither happens.

Layout: every write is a *unit* (the rows of one table pyiceberg wrote, spread over files in
row order; or one data file indexed from disk). Key hashes live in sorted *runs* (keyruns.py)
whose entries name a unit and a row. A lookup hashes the batch, binary-searches the runs,
drops entries whose file is gone or whose row a position delete removed (*tombstones*), and
compares the remaining stored keys (taken from the unit's key copy) with the batch exactly:
a hash collision costs a comparison, never a wrong answer; a pair is never missed because the
index covers every current file of the snapshot it is valid for, or is not used.

It is kept current by the writer's own commits (``committed``: the batch's hashes are already
computed for the lookup) and catches up with commits it did not see (another process, another
engine, a crash between the Iceberg commit and the index) by comparing the snapshot's data
and delete files with the ones it covers: new files are read (key columns only), removed ones
dropped, new delete files become tombstones. A removed delete file whose rows are live again
(a rollback) makes it start over. It declines tables DuckDB cannot read exactly (other
engines' delete files, evolved schemas) and groups past ``max_rows()`` rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table

from lakebox.errors import StorageError
from lakebox.offline import keyruns, keystore, keywork, reader
from lakebox.offline.keyruns import Run, by_unit, hashes, max_rows, positions_table
from lakebox.offline.keystore import UnitFiles
from lakebox.offline.lock import WriteLock

log = logging.getLogger(__name__)
UNIT_COLUMN = "__lakebox_unit"
ROW_COLUMN = "__lakebox_row"
PURGE_MIN = 100_000  # dead entries tolerated before runs are rewritten without them


@dataclass
class Written:
    """One table a commit wrote: its data files (in row order), its key columns (storage
    types) and their hashes in row order (None: not hashed; indexed from the files later)."""

    files: list[DataFile]
    keys: pa.Table
    hashes: np.ndarray | None = None
    prepared: keywork.Prepared | None = None  # its run and key copy, written while the files were


@dataclass
class Found:
    """What a lookup found: the live stored rows equal to a batch row (``positions``:
    recorded ``file_path``, ``pos``; sorted), their files, and the batch rows whose hash hit
    an entry (a superset of the matching ones)."""

    positions: pa.Table
    paths: set[str]
    keys: pa.Table


class KeyIndex:
    """The key index of one table, mirrored from its folder; used only under the write lock."""

    def __init__(self, keys: Sequence[str], folder: Path, lock: WriteLock) -> None:
        self.keys = tuple(keys)
        self.folder = keystore.Folder(folder)
        self._merger = keywork.Merger(lock, self.folder, self._pick_merge, self._install_merge)
        self._stamp: str | None = None  # the generation of the state file this object mirrors
        self._swept = False
        self._refused: int | None = None  # a snapshot the index cannot serve (see _sync)
        self._clear()

    def _clear(self) -> None:
        self.known = False  # whether the index covers exactly the files of snapshot ``at``
        self.at: int | None = None  # None: the table has no snapshot yet
        self.table_uuid = ""
        self.location = ""  # the table's location the recorded paths belong to
        self.rows = 0  # rows in the files of snapshot ``at``
        self.units: dict[int, UnitFiles] = {}
        self.unit_names: dict[int, str] = {}  # unit -> its key copy
        self.file_unit: dict[str, tuple[int, int]] = {}  # live data file -> (unit, its index in the unit)
        self.unread: set[str] = set()  # live files not indexed yet
        self.runs: list[Run] = []
        self.gone: list[tuple[np.ndarray, str]] = []  # tombstone runs and their files
        self.applied: dict[str, list[int]] = {}  # delete file -> the units it removed rows from
        self._next_unit = 0
        self._mapped: dict[int, pa.Table] = {}
        self._unit_text: dict[int, str] = {}  # unit -> its JSON in the state (cached: see _save)
        self._obsolete: list[str] = []  # files to remove once the next state is written

    @property
    def entries(self) -> int:
        return sum(len(r) for r in self.runs)

    # -- answering ----------------------------------------------------------------------
    def lookup(
        self,
        table: Table,
        snapshot_id: int,
        batch_keys: pa.Table,
        row_hashes: np.ndarray | None = None,
        needles: np.ndarray | None = None,
    ) -> Found | None:
        """The stored rows equal to a row of ``batch_keys`` (storage types, columns = the
        table's keys); None when the index cannot answer (locate the slow way).
        ``row_hashes``: the batch's hashes in row order, ``needles`` the same sorted, if known."""
        if batch_keys.column_names != list(self.keys):
            return None
        try:
            try:
                return self._lookup(table, snapshot_id, batch_keys, row_hashes, needles)
            except keystore.Unreadable:  # a damaged key copy: start over from the table's files
                self._discard()
            return self._lookup(table, snapshot_id, batch_keys, row_hashes, needles)
        except (keystore.Unreadable, OSError):
            # a cache that cannot be written or read back (a full disk, a read-only folder):
            # the write locates the slow way, by reading key columns
            log.warning("the key index in %s cannot be used; locating by reading keys", self.folder.path, exc_info=True)
            try:
                self._discard()
            except OSError:
                self._clear()
                self._stamp = None
            return None

    def _lookup(
        self,
        table: Table,
        snapshot_id: int,
        batch_keys: pa.Table,
        row_hashes: np.ndarray | None,
        needles: np.ndarray | None,
    ) -> Found | None:
        if not self._sync(table, snapshot_id):
            return None
        if self.unread:
            self._index_files(table, sorted(self.unread))
            self._save()
        if row_hashes is None:
            row_hashes = hashes(batch_keys)
        if needles is None:
            needles = np.sort(row_hashes)
        units, rows, hit = self._entries(needles)
        if len(units) == 0:
            return _nothing(batch_keys.slice(0, 0))
        # only the batch rows whose hash hit a live entry are compared (a set probe: the hits are few)
        narrowed = batch_keys.filter(pc.is_in(pa.array(row_hashes), value_set=pa.array(hit)))
        stored = self._stored_keys(units, rows)
        matched = stored.join(narrowed, keys=list(self.keys), join_type="left semi")
        return self._found(matched.column(UNIT_COLUMN).to_numpy(), matched.column(ROW_COLUMN).to_numpy(), narrowed)

    def _entries(self, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit, row) of the live entries whose hash is one of ``needles``, and the distinct hashes of those."""
        units, rows, found = [], [], []
        for run in self.runs:
            index = run.matches(needles)
            if len(index):
                units.append(run.units[index])
                rows.append(run.rows[index])
                found.append(run.hashes[index])
        if not units:
            return np.zeros(0, keyruns.UNIT), np.zeros(0, keyruns.ROW), np.zeros(0, np.uint64)
        unit, row, hashed = np.concatenate(units), np.concatenate(rows), np.concatenate(found)
        live = self._live(unit, row) & ~keyruns.gone_mask([g for g, _ in self.gone], keyruns.at(unit, row))
        return unit[live], row[live], np.unique(hashed[live])

    def _live(self, units: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Whether each (unit, row) is in a file still in the table (O(entries): a table of
        unit states, and a per-file check only for units some of whose files were removed)."""
        if len(units) == 0:
            return np.zeros(0, dtype=bool)
        state = np.zeros(max(int(units.max()), self._next_unit) + 1, np.int8)  # 0 dead, 1 live, 2 partly
        for unit, files in self.units.items():
            state[unit] = 1 if all(files.live) else (2 if any(files.live) else 0)
        per_entry = state[units]
        live = per_entry == 1
        partly = np.flatnonzero(per_entry == 2)
        for unit, index in by_unit(units[partly]):
            files = self.units[unit]
            live[partly[index]] = np.array(files.live, dtype=bool)[files.file_of(rows[partly[index]])]
        return live

    def _stored_keys(self, units: np.ndarray, rows: np.ndarray) -> pa.Table:
        """The stored key columns of the entries, with their unit and row."""
        parts = []
        for unit, index in by_unit(units):
            mine = rows[index]
            taken = self._keys_of(unit).take(pa.array(mine))
            parts.append(
                taken.append_column(UNIT_COLUMN, pa.array(np.full(len(mine), unit, keyruns.UNIT))).append_column(
                    ROW_COLUMN, pa.array(mine)
                )
            )
        return pa.concat_tables(parts)

    def _keys_of(self, unit: int) -> pa.Table:
        found = self._mapped.get(unit)
        if found is None:
            found = self.folder.map_table(self.unit_names[unit], self.units[unit].rows)  # raises Unreadable
            self._mapped[unit] = found
        return found

    def _found(self, units: np.ndarray, rows: np.ndarray, narrowed: pa.Table) -> Found:
        paths: list[str] = []
        which_path: list[np.ndarray] = []
        positions: list[np.ndarray] = []
        for unit, index in by_unit(units):
            files = self.units[unit]
            mine = rows[index].astype(np.int64)
            which = files.file_of(mine)
            for file_index in np.unique(which).tolist():
                at = mine[which == file_index] - files.starts[file_index]
                which_path.append(np.full(len(at), len(paths), np.int32))
                paths.append(files.paths[file_index])
                positions.append(at)
        if not paths:
            return _nothing(narrowed)
        table = positions_table(paths, np.concatenate(which_path), np.concatenate(positions))
        return Found(table.sort_by([("file_path", "ascending"), ("pos", "ascending")]), set(paths), narrowed)

    # -- keeping it current -------------------------------------------------------------
    def committed(
        self,
        table: Table,
        base: int | None,
        snapshot_id: int,
        removed: Iterable[DataFile],
        written: Sequence[Written],
        deleted: tuple[str, pa.Table] | None = None,
    ) -> None:
        """The writer committed ``snapshot_id`` of ``table`` on top of ``base``: it removed the
        files ``removed``, wrote ``written`` and (``deleted``) one position-delete file with its
        recorded ``(file_path, pos)`` rows."""
        self._load()
        if not self._same_table(table):
            self._discard()
            self._same_table(table)
        if base is None and not self.known and not self.runs and not self.unread and self.at is None:
            self.known = True  # the first commit of an empty table
        if not self.known or self.at != base:
            self.known = False  # not the state the commit started from: catch up at next use
            return
        for data_file in removed:
            if data_file.content == DataFileContent.DATA:
                self._drop(data_file.file_path)
                self.rows -= data_file.record_count
            elif self._revives(data_file.file_path):
                self._discard()
                return
        for table_written in written:
            if table_written.files:
                self._add_written(table_written)
                self.rows += sum(f.record_count for f in table_written.files)
        if deleted is not None and not self._tombstones(*deleted):
            self._discard()
            return
        self.at = snapshot_id
        if self.rows > max_rows():
            self._discard()
            return
        self._purge_if_dead()
        self._save()

    def forget(self) -> None:
        """Discard the index (files and memory); it is rebuilt from the files when next needed."""
        self._discard()

    def delete(self) -> None:
        """Remove the index and its folder (the table was dropped)."""
        self._discard()
        self.folder.delete()

    def _discard(self) -> None:
        self.folder.clear()
        self._clear()
        self._stamp = None

    def prepare(self, keys: pa.Table, row_hashes: np.ndarray) -> keywork.Prepared:
        """Start indexing a batch about to be written (its key columns in row order and their
        hashes); ``committed`` takes it as ``Written.prepared``, or it is ``discard``ed."""
        unit = self._next_unit
        self._next_unit += 1
        return keywork.Prepared(self.folder, unit, keys.select(list(self.keys)), row_hashes)

    def settle(self) -> None:
        """Wait for a background merge of runs to finish."""
        self._merger.settle()

    def _add_written(self, written: Written) -> None:
        counts = [f.record_count for f in written.files]
        paths = [f.file_path for f in written.files]
        prepared = written.prepared
        if prepared is not None:
            if sum(counts) != prepared.rows or prepared.unit in self.units:
                prepared.discard()
                self.unread.update(paths)
                return
            run, name = prepared.result()
            self._next_unit = max(self._next_unit, prepared.unit + 1)
            self._register_unit(prepared.unit, paths, counts, name, prepared.keys)
            self._add_run(run)
            return
        if written.hashes is None or sum(counts) != written.keys.num_rows:
            self.unread.update(paths)  # read from the files when needed
            return
        unit = self._new_unit(paths, counts, written.keys)
        self._add_run(keyruns.run_of(written.hashes, unit))

    def _new_unit(self, paths: list[str], counts: list[int], keys: pa.Table) -> int:
        """A unit of ``paths`` whose key columns (exactly the index's) are ``keys``."""
        unit = self._next_unit
        self._next_unit += 1
        self._register_unit(unit, paths, counts, self.folder.write_table("keys", keys), keys)
        return unit

    def _register_unit(self, unit: int, paths: list[str], counts: list[int], name: str, keys: pa.Table) -> None:
        starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.int64)
        self.units[unit] = UnitFiles(list(paths), starts, [True] * len(paths), keys.num_rows)
        self.unit_names[unit] = name
        self._mapped[unit] = keys
        self._unit_text.pop(unit, None)
        for index, path in enumerate(paths):
            self.file_unit[path] = (unit, index)
            self.unread.discard(path)

    def _add_run(self, run: Run) -> None:
        if not len(run):
            return
        self.runs.append(run)  # small merges now, bigger ones in the background (keywork.Merger)
        count = keywork.tail_to_merge([len(r) for r in self.runs], keywork.INLINE_MERGE_MAX)
        if count >= 2:
            merged = keyruns.merged(self.runs[-count:])
            self._obsolete += [r.name for r in self.runs[-count:] if r.name]
            self.runs[-count:] = [merged]

    def _pick_merge(self) -> list[Run]:
        self._load()
        count = keywork.tail_to_merge([len(r) for r in self.runs])
        return self.runs[-count:] if count >= 2 and all(r.name for r in self.runs[-count:]) else []

    def _install_merge(self, picked: list[Run], merged: Run) -> bool:
        self._load()
        names = [r.name for r in picked]
        current = [r.name for r in self.runs]
        if names[0] not in current:
            return False
        start = current.index(names[0])
        if current[start : start + len(names)] != names:
            return False
        self.runs[start : start + len(names)] = [merged]
        self._obsolete += names
        self._save()
        return True

    def _drop(self, path: str) -> None:
        self.unread.discard(path)
        place = self.file_unit.pop(path, None)
        if place is not None:
            self.units[place[0]].live[place[1]] = False
            self._unit_text.pop(place[0], None)

    def _revives(self, delete_path: str) -> bool:
        """Forget a removed delete file; True when a file it deleted rows of is still live
        (its rows are live again: the tombstones are wrong)."""
        units = self.applied.pop(delete_path, None)
        return units is not None and any(any(self.units[u].live) for u in units if u in self.units)

    def _tombstones(self, delete_path: str, positions: pa.Table) -> bool:
        """Record the rows of a position-delete file as gone; False if one is not indexed."""
        if positions.num_rows == 0:
            return True
        paths = positions.column("file_path")
        distinct = [str(p) for p in pc.unique(paths).to_pylist()]
        if any(p in self.unread for p in distinct):
            return False
        # rows of files no longer live need no tombstone (their entries are dropped as dead)
        places = {p: self.file_unit[p] for p in distinct if p in self.file_unit}
        if not places:
            self.applied[delete_path] = []
            return True
        kept = positions.filter(pc.is_in(paths, value_set=pa.array(list(places), paths.type)))
        paths = kept.column("file_path")
        index = pc.index_in(paths, value_set=pa.array(list(places), paths.type)).to_numpy()
        units = np.array([u for u, _ in places.values()], keyruns.UNIT)[index]
        starts = np.array([self.units[u].starts[i] for u, i in places.values()], np.int64)[index]
        rows = starts + kept.column("pos").to_numpy().astype(np.int64)
        stones = np.sort(keyruns.at(units, rows))
        self.gone.append((stones, self.folder.write_gone(stones)))
        self.applied[delete_path] = sorted({u for u, _ in places.values()})
        if len(self.gone) > 8:  # few tombstone runs: merge them all (they are small)
            self._replace_gone(np.sort(np.concatenate([g for g, _ in self.gone])))
        return True

    def _replace_gone(self, stones: np.ndarray) -> None:
        """Make ``stones`` (sorted) the only tombstone run."""
        self._obsolete += [n for _, n in self.gone]
        self.gone = [(stones, self.folder.write_gone(stones))] if len(stones) else []

    def _purge_if_dead(self) -> None:
        """Rewrite the runs without the entries of removed files once those outnumber the live ones."""
        if self.entries <= 2 * max(self.rows, 1) or self.entries <= PURGE_MIN:
            return
        dead = [u for u, files in self.units.items() if not any(files.live)]
        for unit in dead:
            del self.units[unit]
            self._obsolete.append(self.unit_names.pop(unit))
            self._mapped.pop(unit, None)
        runs = []
        for run in self.runs:
            kept = run.keep(self._live(run.units, run.rows))
            self._obsolete.append(run.name)
            if len(kept):
                runs.append(kept)
        self.runs = runs
        if self.gone:  # tombstones of removed files go too
            joined = np.sort(np.concatenate([g for g, _ in self.gone]))
            units = (joined >> np.uint64(32)).astype(keyruns.UNIT)
            self._replace_gone(joined[self._live(units, (joined & np.uint64(0xFFFFFFFF)).astype(keyruns.ROW))])

    def _sync(self, table: Table, snapshot_id: int) -> bool:
        """Make the index cover exactly the files of ``snapshot_id``; False if it cannot."""
        self._load()
        if not self._same_table(table):
            self._discard()
            self._same_table(table)
        if self.known and self.at == snapshot_id:
            return True
        if self._refused == snapshot_id:
            return False
        tasks = reader.plan(table, snapshot_id)
        # lakebox's own position deletes keep the index usable (tombstones)
        if not reader.duckdb_can_read_deleting(table, tasks) or sum(t.file.record_count for t in tasks) > max_rows():
            self._discard()
            self._refused = snapshot_id
            return False
        current = {t.file.file_path for t in tasks}
        live_deletes = {d.file_path for t in tasks for d in t.delete_files}
        for path in [p for p in (*self.file_unit, *self.unread) if p not in current]:
            self._drop(path)
        dead = {p for files in self.units.values() for p, live in zip(files.paths, files.live, strict=True) if not live}
        revived = any(p in dead for p in current)  # a removed file added back (a rollback): its tombstones are lost
        if revived or any(self._revives(p) for p in [p for p in self.applied if p not in live_deletes]):
            self._discard()
            return self._sync(table, snapshot_id)
        self.unread |= {p for p in current if p not in self.file_unit}
        self.rows = sum(t.file.record_count for t in tasks)
        self.known, self.at = True, snapshot_id
        if self.unread:
            self._index_files(table, sorted(self.unread))
        for path in sorted(live_deletes - set(self.applied)):
            self._tombstones(path, reader.delete_positions(table, path))
        self._purge_if_dead()
        self._save()
        return True

    def _same_table(self, table: Table) -> bool:
        """Whether the index may describe ``table`` (and make it describe it): not when it was
        made for a group dropped and created again under the same name (another uuid), or
        before its box was relocated (every recorded path changed under the same snapshot)."""
        uuid, location = str(table.metadata.table_uuid), table.metadata.location
        if (self.table_uuid and self.table_uuid != uuid) or (self.location and self.location != location):
            return False
        self.table_uuid, self.location = uuid, location
        return True

    def _index_files(self, table: Table, paths: Sequence[str]) -> None:
        """Index data files from disk, each its own unit, as ONE run (a stable argsort of
        their hashes merges them in O(n log files); one run per file merged them log(files) times)."""
        storage = table.schema().as_arrow()
        key_schema = pa.schema([storage.field(k) for k in self.keys])
        read = _read_keys(table, paths, key_schema)
        parts = []
        for path, (keys, key_hashes) in zip(paths, read, strict=True):
            unit = self._new_unit([path], [keys.num_rows], keys)
            parts.append(keyruns.run_of(key_hashes, unit))
        if parts:
            self._add_run(keyruns.merged(parts) if len(parts) > 1 else parts[0])

    # -- the folder ---------------------------------------------------------------------
    def _load(self) -> None:
        """Mirror the state file if another process (or a reset) replaced it."""
        stamp = self.folder.stamp()
        if stamp is not None and stamp != keystore.UNKNOWN and stamp == self._stamp:
            return
        self._clear()
        self._stamp = stamp
        if stamp is None:
            return
        try:
            state = self.folder.read_state()
            if state is None or state.get("hash") != keyruns.HASH_ID or tuple(state.get("keys", ())) != self.keys:
                self._discard()
                return
            self._from_state(state)
        except (keystore.Unreadable, KeyError, TypeError, ValueError):
            self._discard()

    def _from_state(self, state: dict[str, Any]) -> None:
        self.known = bool(state["known"])
        self.at = state["at"]
        self.table_uuid = str(state["table"])
        self.location = str(state["location"])
        self.rows = int(state["rows"])
        self._next_unit = int(state["next_unit"])
        for unit_text, (name, *files) in state["units"].items():
            unit = int(unit_text)
            self.units[unit] = UnitFiles.from_json(files)
            self.unit_names[unit] = str(name)
            for index, (path, live) in enumerate(zip(self.units[unit].paths, self.units[unit].live, strict=True)):
                if live:
                    self.file_unit[path] = (unit, index)
        self.unread = set(state["unread"])
        for name, count in state["runs"]:
            hashes_, units, rows = self.folder.map_arrays(name, int(count), keystore.RUN_SCHEMA)
            self.runs.append(Run(hashes_, units, rows, name))
        for name, count in state["gone"]:
            (stones,) = self.folder.map_arrays(name, int(count), keystore.GONE_SCHEMA)
            self.gone.append((stones, name))
        self.applied = {str(k): [int(u) for u in v] for k, v in state["applied"].items()}

    def _save(self) -> None:
        for run in self.runs:
            if not run.name:
                run.name = self.folder.write_run(run.hashes, run.units, run.rows)
        state = {
            "hash": keyruns.HASH_ID,
            "keys": list(self.keys),
            "table": self.table_uuid,
            "location": self.location,
            "known": self.known,
            "at": self.at,
            "rows": self.rows,
            "next_unit": self._next_unit,
            "unread": sorted(self.unread),
            "runs": [[r.name, len(r)] for r in self.runs],
            "gone": [[name, len(stones)] for stones, name in self.gone],
            "applied": self.applied,
        }
        units = []
        for unit, files in self.units.items():
            text = self._unit_text.get(unit)
            if text is None:
                text = self._unit_text[unit] = json.dumps([self.unit_names[unit], *files.to_json()], separators=(",", ":"))
            units.append(f'"{unit}":{text}')
        self._stamp = self.folder.write_state(state, {"units": "{" + ",".join(units) + "}"})
        self.folder.remove([n for n in self._obsolete if n])
        self._obsolete = []
        if keywork.tail_to_merge([len(r) for r in self.runs]) >= 2:
            self._merger.request()
        if not self._swept:  # once per process: files of a writer that died before its state
            self._swept = True
            self.folder.sweep({*self.unit_names.values(), *(r.name for r in self.runs), *(n for _, n in self.gone)})


def _nothing(keys: pa.Table) -> Found:
    """A lookup that found no stored row (``keys``: the batch rows whose hash hit)."""
    return Found(positions_table([], np.zeros(0, np.int32), np.zeros(0, np.int64)), set(), keys)


def _read_keys(table: Table, paths: Sequence[str], key_schema: pa.Schema) -> list[tuple[pa.Table, np.ndarray]]:
    """The key columns (storage types) of each data file and their hashes, two files at a
    time: reading and hashing run outside the GIL."""

    def one(path: str) -> tuple[pa.Table, np.ndarray]:
        local = reader.local_path(path, table)
        try:
            keys = pq.read_table(local, columns=key_schema.names).select(key_schema.names).cast(key_schema)
        except (OSError, pa.ArrowException) as e:
            raise StorageError(f"Indexing the keys of {table.name()} failed reading {local}: {e}") from e
        return keys, hashes(keys)

    if len(paths) <= 1:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lakebox-keyindex") as pool:
        return list(pool.map(one, paths))
