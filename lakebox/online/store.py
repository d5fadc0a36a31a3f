"""The LMDB environment of a box: one named database per online-enabled group.

LMDB is derived data: Iceberg is the truth and ``rebuild`` recreates a group from it. Each
write transaction also records, in the ``meta`` database, the last commit of the group it
applied (the watermark), so after a crash a reader can tell it is behind and catch up.
Safe defaults: sync on, no writemap. The environment is opened lazily per process and
never reused after fork. The map grows by doubling when full; readers adopt a map grown by
another process.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from lakebox.errors import StorageError

log = logging.getLogger(__name__)

INITIAL_MAP_SIZE = 64 * 1024 * 1024
MAX_DBS = 4096
_WATERMARK = struct.Struct(">q")
T = TypeVar("T")


def db_name(group_id: int) -> bytes:
    return b"g%d" % group_id


class OnlineStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._env: lmdb.Environment | None = None
        self._pid = -1
        self._dbs: dict[bytes, Any] = {}
        self._lock = threading.Lock()

    @property
    def env(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            with self._lock:
                if self._env is None or self._pid != os.getpid():
                    self.path.mkdir(parents=True, exist_ok=True)
                    try:
                        self._env = lmdb.open(
                            str(self.path),
                            map_size=max(INITIAL_MAP_SIZE, _data_size(self.path) * 2),
                            max_dbs=MAX_DBS,
                            subdir=True,
                            sync=True,
                            metasync=True,
                            writemap=False,
                            readahead=False,  # random point reads: readahead only wastes cache
                            max_readers=1024,
                        )
                    except lmdb.Error as e:
                        raise StorageError(f"Cannot open the online store {self.path}: {e}") from e
                    self._pid = os.getpid()
                    self._dbs = {}
        return self._env

    def db(self, name: bytes) -> Any:
        env = self.env  # reopens (and forgets old handles) after close or fork
        handle = self._dbs.get(name)
        if handle is None:
            handle = env.open_db(name, create=True)
            self._dbs[name] = handle
        return handle

    def handles(self, names: Sequence[bytes]) -> list[Any]:
        """Database handles for ``names`` (opened if needed), checked for fork once."""
        if self._env is None or self._pid != os.getpid():
            _ = self.env  # (re)open after close or fork
        dbs = self._dbs
        try:
            return [dbs[name] for name in names]
        except KeyError:
            return [self.db(name) for name in names]

    def close(self) -> None:
        if self._env is not None and self._pid == os.getpid():
            self._env.close()
        self._env = None
        self._dbs = {}

    # -- transactions -------------------------------------------------------------------
    def write(self, fn: Callable[[lmdb.Transaction], T], *dbs: bytes) -> T:
        """Run ``fn`` in one write transaction, doubling the map and retrying when it is full.

        ``dbs`` are opened first: LMDB cannot open a database inside another write transaction.
        """
        for name in (b"meta", *dbs):
            self.db(name)
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    return fn(txn)
            except lmdb.MapFullError:
                size = self.env.info()["map_size"] * 2
                log.info("online store full: growing the map to %d MiB", size // 2**20)
                self.env.set_mapsize(size)
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)
            except lmdb.Error as e:
                raise StorageError(f"Online store write failed: {e}") from e

    def begin_read(self) -> lmdb.Transaction:
        """A bare read transaction for hot paths (the caller aborts it); see ``read``."""
        try:
            try:
                return self.env.begin()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)  # another process grew the map: adopt its size
                return self.env.begin()
        except lmdb.Error as e:
            raise StorageError(f"Cannot read the online store {self.path}: {e}") from e

    @contextmanager
    def read(self, *dbs: bytes) -> Iterator[lmdb.Transaction]:
        """A read transaction (a consistent snapshot across every group); ``dbs`` are opened
        first (LMDB cannot open a database inside a transaction)."""
        self.handles((b"meta", *dbs))
        try:
            try:
                txn = self.env.begin()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)  # another process grew the map: adopt its size
                txn = self.env.begin()
        except lmdb.Error as e:
            raise StorageError(f"Cannot read the online store {self.path}: {e}") from e
        try:
            yield txn
        except lmdb.Error as e:
            raise StorageError(f"Online store read failed: {e}") from e
        finally:
            txn.abort()

    # -- watermarks ---------------------------------------------------------------------
    def watermark(self, group_id: int, txn: lmdb.Transaction | None = None) -> int:
        """The last commit of the group applied here (0: none)."""
        if txn is None:
            with self.read() as own:
                return self.watermark(group_id, own)
        raw = txn.get(db_name(group_id), db=self.db(b"meta"))
        return _WATERMARK.unpack(raw)[0] if raw else 0

    def set_watermark(self, txn: lmdb.Transaction, group_id: int, commit_id: int) -> None:
        txn.put(db_name(group_id), _WATERMARK.pack(commit_id), db=self.db(b"meta"))

    def drop(self, group_id: int) -> None:
        """Forget a group (deleted, or online disabled)."""
        name = db_name(group_id)

        def run(txn: lmdb.Transaction) -> None:
            txn.drop(self.db(name), delete=True)
            txn.delete(name, db=self.db(b"meta"))

        self.write(run, name)
        self._dbs.pop(name, None)

    def count(self, group_id: int) -> int:
        with self.read(db_name(group_id)) as txn:
            return int(txn.stat(self.db(db_name(group_id)))["entries"])


def _data_size(path: Path) -> int:
    data = path / "data.mdb"
    return data.stat().st_size if data.exists() else 0
