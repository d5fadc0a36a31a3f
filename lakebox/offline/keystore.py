"""The on-disk form of a group's key index (keyindex.py), so no process rebuilds it.

Why: an index that lived in each process's memory was rebuilt by reading every key column of
the group on a process's first upsert (2.5 s at 10M rows, 12 s at 50M), and it could only say
which *files* might hold a batch's pairs, so an update still read the key columns of those
files to find the rows (O(group keys) for 100 updated pairs). Persisted with the row of every
entry and a copy of each written table's key columns, a lookup costs O(batch) in any process.

Layout of ``<box>/.keyindex/<table>/`` (a cache: deleting it costs one rebuild, and backups
leave it out):

- ``state.json``: what the index covers (table uuid, hash function, key columns, snapshot),
  its units, runs, tombstone runs and applied delete files. Replaced atomically (write a
  temporary file, rename), and only while the group's write lock is held.
- ``keys-<unit>.arrow``: the key columns of one *unit* (the rows of one written table, or
  of one data file read from disk), in row order, uncompressed Arrow IPC: a lookup maps it
  and takes the few rows it checks.
- ``run-<token>.arrow``: sorted key hashes with the unit and row of each entry.
- ``gone-<token>.arrow``: sorted ``unit << 32 | row`` of rows deleted by position deletes.

Files are immutable once named by a state; a file no state names (a writer died between
writing it and the state) is removed, once it is old, by the next process that writes a state.
Like the Iceberg data files, they are not fsynced: a process that dies leaves a consistent
index (the state is replaced last); a state that names a missing or unreadable file is
discarded and the index rebuilt from the group's files.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

FORMAT = 1
STATE = "state.json"
RUN_SCHEMA = pa.schema([("hash", pa.uint64()), ("unit", pa.int32()), ("row", pa.int32())])
GONE_SCHEMA = pa.schema([("at", pa.uint64())])
SWEEP_GRACE_S = 600.0
UNKNOWN = "unknown"  # the stamp of a state that cannot be read (never equal to a mirrored one)
_GENERATION = re.compile(rb'^\{"format":\d+,"generation":"([0-9a-f]+)"')


class Unreadable(Exception):
    """A file of the index is missing or damaged: the caller discards the index."""


@dataclass
class UnitFiles:
    """The data files holding one unit's rows, in row order: ``starts[i]`` is the unit row of
    the first row of ``paths[i]``; ``live[i]`` whether that file is still in the table."""

    paths: list[str]
    starts: np.ndarray  # int64, one per file, ascending, starting at 0
    live: list[bool]
    rows: int  # rows in the unit (in its key copy)

    def file_of(self, rows: np.ndarray) -> np.ndarray:
        """The index (into ``paths``) of the file holding each unit row."""
        return np.searchsorted(self.starts, rows, side="right") - 1

    def to_json(self) -> list[Any]:
        files = [[p, int(s), bool(v)] for p, s, v in zip(self.paths, self.starts.tolist(), self.live, strict=True)]
        return [self.rows, files]

    @classmethod
    def from_json(cls, value: list[Any]) -> UnitFiles:
        rows, files = value
        return cls(
            [str(f[0]) for f in files],
            np.array([int(f[1]) for f in files], np.int64),
            [bool(f[2]) for f in files],
            int(rows),
        )


class Folder:
    """The index files of one table."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- state ---------------------------------------------------------------------------
    def stamp(self) -> str | None:
        """The generation of the current state (a random token written first in the file, so
        reading ~60 bytes tells whether another process replaced it; inode and mtime could
        repeat within a clock tick): None when there is no state, UNKNOWN when it is damaged."""
        try:
            with open(self.path / STATE, "rb") as f:
                head = f.read(64)
        except FileNotFoundError:
            return None
        except OSError:
            return UNKNOWN
        found = _GENERATION.match(head)
        return found.group(1).decode() if found else UNKNOWN

    def read_state(self) -> dict[str, Any] | None:
        try:
            text = (self.path / STATE).read_text()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Unreadable(str(e)) from e
        try:
            state = json.loads(text)
        except ValueError as e:
            raise Unreadable(f"{STATE}: {e}") from e
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise Unreadable(f"{STATE} is not format {FORMAT}")
        return state

    def write_state(self, state: dict[str, Any], encoded: dict[str, str]) -> str:
        """Replace the state with ``state`` plus ``encoded`` (members already in JSON: the
        units, encoded once each, since a commit changes few and a group may have thousands)."""
        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.path / f"{STATE}.{secrets.token_hex(4)}.tmp"
        generation = secrets.token_hex(8)
        text = json.dumps({"format": FORMAT, "generation": generation, **state}, separators=(",", ":"))
        extra = ",".join(f"{json.dumps(name)}:{value}" for name, value in encoded.items())
        temporary.write_text(f"{text[:-1]},{extra}}}" if extra else text)
        os.replace(temporary, self.path / STATE)
        return generation

    def clear(self) -> None:
        """Remove every file of the index (it is rebuilt from the group's files)."""
        if not self.path.is_dir():
            return
        for entry in self.path.iterdir():
            entry.unlink(missing_ok=True)

    def delete(self) -> None:
        """Remove the folder (its group was dropped)."""
        self.clear()
        try:
            self.path.rmdir()
        except OSError:
            pass

    def sweep(self, named: set[str]) -> None:
        """Remove the index files no state names, left by a writer that died. Only old ones:
        a background merge (keywork.py) writes its run before it takes the lock to name it."""
        if not self.path.is_dir():
            return
        cutoff = time.time() - SWEEP_GRACE_S
        for entry in self.path.iterdir():
            if entry.name == STATE or entry.name in named:
                continue
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink(missing_ok=True)
            except OSError:
                continue

    def remove(self, names: list[str]) -> None:
        for name in names:
            (self.path / name).unlink(missing_ok=True)

    # -- immutable files -----------------------------------------------------------------
    def write_table(self, prefix: str, rows: pa.Table) -> str:
        """Write ``rows`` as a new uncompressed Arrow IPC file; returns its name."""
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"{prefix}-{secrets.token_hex(8)}.arrow"
        with ipc.new_file(str(self.path / name), rows.schema) as writer:
            writer.write_table(rows, max_chunksize=max(rows.num_rows, 1))
        return name

    def write_run(self, hashes: np.ndarray, units: np.ndarray, rows: np.ndarray) -> str:
        """Write a run (sorted hashes with the unit and row of each entry); returns its name."""
        return self.write_table("run", pa.table([hashes, units, rows], schema=RUN_SCHEMA))

    def write_gone(self, stones: np.ndarray) -> str:
        """Write a tombstone run (sorted ``unit << 32 | row``); returns its name."""
        return self.write_table("gone", pa.table([stones], schema=GONE_SCHEMA))

    def map_table(self, name: str, rows: int | None = None) -> pa.Table:
        """The table in file ``name``, memory-mapped (nothing is read until used)."""
        try:
            found = ipc.open_file(pa.memory_map(str(self.path / name))).read_all()
        except (OSError, pa.ArrowException) as e:
            raise Unreadable(f"{name}: {e}") from e
        if rows is not None and found.num_rows != rows:
            raise Unreadable(f"{name} holds {found.num_rows} rows, the state says {rows}")
        return found.combine_chunks() if found.column(0).num_chunks > 1 else found

    def map_arrays(self, name: str, rows: int, schema: pa.Schema) -> list[np.ndarray]:
        """The columns of a run file as numpy arrays over the mapped memory."""
        found = self.map_table(name, rows)
        if not found.schema.equals(schema):
            raise Unreadable(f"{name} has the schema {found.schema}, not {schema}")
        if rows == 0:
            return [np.zeros(0, field.type.to_pandas_dtype()) for field in schema]
        return [found.column(i).chunk(0).to_numpy() for i in range(len(schema))]
