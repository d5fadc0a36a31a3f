"""The LMDB environment of a box: one named database per online-enabled group.

LMDB is derived data: Iceberg is the truth and ``rebuild`` recreates a group from it. Each
write transaction also records, in the ``meta`` database, the last commit of the group it
applied (the watermark), so after a crash a reader can tell it is behind and catch up.
Safe defaults: sync on, no writemap. The environment is opened lazily per process and
never reused after fork. The map grows by doubling when full; readers adopt a map grown by
another process.

Groups are named by a string uid (the group's Iceberg table name, random per group), never
by the catalog's integer id: a catalog id can come back (a restored or re-created catalog),
and a new group must never read another group's rows. The ``meta`` database also holds the
box id, checked against the box's on open (an online store copied from another box is
refused). Before LMDB maps ``data.mdb`` its header is checked (a truncated file would
otherwise kill the process with SIGBUS on the first read).
"""

from __future__ import annotations

import logging
import os
import re
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
MAX_UID_BYTES = 400  # LMDB names a database by a key of the main database (<= 511 bytes)
BOX_ID_KEY = b"box_id"  # in ``meta``; never a group's name (those start with b"g" + digit or b"t:")
_WATERMARK = struct.Struct(">q")
_LEGACY_NAME = re.compile(rb"^g[0-9]+$")
T = TypeVar("T")

REBUILD_HINT = (
    "The online store is derived data: stop the processes using the box, delete its online/ "
    "directory, and run `lakebox online rebuild` (or `lakebox doctor --repair`); reads also "
    "rebuild each group from the offline store on their own."
)

# LMDB's on-disk header (lmdb/mdb.c, 64-bit build): two meta pages at the start of data.mdb.
_META_MAGIC = 0xBEEFC0DE
_META_VERSION = 1
_P_META = 0x08
_PAGE_FLAGS = struct.Struct("<H")  # MDB_page.mp_flags at offset 10
_META_HEAD = struct.Struct("<II")  # mm_magic, mm_version at offset 16 (after the 16-byte page header)
_META_PSIZE = struct.Struct("<I")  # mm_dbs[FREE_DBI].md_pad (the page size) at offset 40
_META_TAIL = struct.Struct("<QQ")  # mm_last_pg, mm_txnid at offset 136
_META_BYTES = 152


_DAMAGE = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError, lmdb.VersionMismatchError, lmdb.PanicError)


def failure(what: str, error: lmdb.Error) -> StorageError:
    """A ``StorageError`` for an LMDB error; damage comes with the way to recover."""
    hint = f" {REBUILD_HINT}" if isinstance(error, _DAMAGE) else ""
    return StorageError(f"{what}: {error}.{hint}")


def db_name(uid: int | str) -> bytes:
    """The LMDB database name of a group: ``uid`` is the group's Iceberg table name.

    (An int, the catalog id, is the legacy form kept while callers migrate; it is not safe
    across a catalog restore and is going away.)
    """
    if isinstance(uid, str):
        raw = uid.encode()
        if not raw or len(raw) > MAX_UID_BYTES:
            raise StorageError(f"Invalid online-store group uid {uid!r} (1..{MAX_UID_BYTES} bytes).")
        return b"t:" + raw
    if isinstance(uid, int) and not isinstance(uid, bool):
        return b"g%d" % uid
    raise TypeError(f"An online-store group uid is a str (the group's table name), got {type(uid).__name__}.")


def check_data_file(path: Path) -> None:
    """Refuse a ``data.mdb`` whose header is not LMDB's or that is shorter than its own
    header says (mapping it would raise SIGBUS on the first read of a missing page).

    A missing or empty file is fine: LMDB creates a fresh environment (and every group is
    rebuilt from the offline store by its watermark).
    """
    data = path / "data.mdb"
    for attempt in (1, 2):  # a writer may be committing its meta page right now: look twice
        problem = _data_file_problem(data)
        if problem is None:
            return
        if attempt == 1:
            continue
        raise StorageError(f"The online store file {data} is damaged: {problem}. {REBUILD_HINT}", path=str(data))


def _data_file_problem(data: Path) -> str | None:
    try:
        with open(data, "rb") as f:
            first = f.read(_META_BYTES)
            if not first:
                return None
            if len(first) < _META_BYTES:
                return f"it is only {len(first)} bytes long"
            (psize,) = _META_PSIZE.unpack_from(first, 40)
            if psize < 512 or psize > 65536 or psize & (psize - 1):
                return f"its page size {psize} is not a power of two between 512 and 65536"
            f.seek(psize)
            second = f.read(_META_BYTES)
            size = os.fstat(f.fileno()).st_size  # after the header: the file only grows
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"it cannot be read ({e})"
    if len(second) < _META_BYTES:
        return f"it is {size} bytes long, shorter than its two header pages ({2 * psize} bytes)"
    metas = []
    for number, page in enumerate((first, second)):
        (flags,) = _PAGE_FLAGS.unpack_from(page, 10)
        magic, version = _META_HEAD.unpack_from(page, 16)
        if not flags & _P_META or magic != _META_MAGIC:
            return f"header page {number} is not an LMDB meta page"
        if version != _META_VERSION:
            return f"header page {number} has LMDB data version {version}, expected {_META_VERSION}"
        metas.append(_META_TAIL.unpack(page[136:152]))
    last_page, _ = max(metas, key=lambda m: m[1])  # LMDB uses the meta of the newest transaction
    needed = (last_page + 1) * psize
    if needed > size:
        return f"it is {size:,} bytes long but its header says it holds {needed:,} bytes (truncated)"
    return None


class OnlineStore:
    """``box_id``: the box's identity; when given, the environment must carry the same one
    (an environment without one, new or from an older lakebox, adopts it)."""

    def __init__(self, path: Path, box_id: str | None = None) -> None:
        self.path = path
        self.box_id = box_id
        self._env: lmdb.Environment | None = None
        self._pid = -1
        self._dbs: dict[bytes, Any] = {}
        self._lock = threading.Lock()

    @property
    def env(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            with self._lock:
                if self._env is None or self._pid != os.getpid():
                    if self._env is not None:
                        # A forked child: py-lmdb still counts the parent's environment as open
                        # in this process. Closing the inherited handle here touches only the
                        # child's mappings (LMDB clears reader slots of the closing pid only).
                        self._env.close()
                        self._env = None
                    self.path.mkdir(parents=True, exist_ok=True)
                    check_data_file(self.path)
                    try:
                        env = lmdb.open(
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
                        raise StorageError(f"Cannot open the online store {self.path}: {e}. {REBUILD_HINT}") from e
                    try:
                        self._check_box_id(env)
                    except BaseException:
                        env.close()
                        raise
                    self._env, self._pid = env, os.getpid()
                    self._dbs = {}
        return self._env

    def _check_box_id(self, env: lmdb.Environment) -> None:
        """The environment's box id must be this box's; one without an id adopts it."""
        if self.box_id is None:
            return
        expected = self.box_id.encode()
        try:
            meta = env.open_db(b"meta", create=True)
            with env.begin(write=True) as txn:
                found = txn.get(BOX_ID_KEY, db=meta)
                if found is None:
                    txn.put(BOX_ID_KEY, expected, db=meta)
                    return
        except lmdb.Error as e:
            raise StorageError(f"Cannot open the online store {self.path}: {e}. {REBUILD_HINT}") from e
        if found != expected:
            raise StorageError(
                f"The online store {self.path} belongs to another box (box id {found.decode(errors='replace')}, "
                f"this box is {self.box_id}): it was copied in from elsewhere. {REBUILD_HINT}",
                path=str(self.path),
            )

    def db(self, name: bytes) -> Any:
        env = self.env  # reopens (and forgets old handles) after close or fork
        handle = self._dbs.get(name)
        if handle is None:
            try:
                handle = env.open_db(name, create=True)
            except lmdb.Error as e:
                raise StorageError(
                    f"Cannot open {name.decode(errors='replace')} in the online store {self.path}: {e}. {REBUILD_HINT}"
                ) from e
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
    def write(self, fn: Callable[[lmdb.Transaction[bytes]], T], *dbs: bytes) -> T:
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
                raise failure(f"Online store write failed in {self.path}", e) from e

    def begin_read(self) -> lmdb.Transaction[bytes]:
        """A bare read transaction for hot paths (the caller aborts it); see ``read``."""
        try:
            try:
                return self.env.begin()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)  # another process grew the map: adopt its size
                return self.env.begin()
        except lmdb.Error as e:
            raise failure(f"Cannot read the online store {self.path}", e) from e

    @contextmanager
    def read(self, *dbs: bytes) -> Iterator[lmdb.Transaction[bytes]]:
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
            raise failure(f"Cannot read the online store {self.path}", e) from e
        try:
            yield txn
        except lmdb.Error as e:
            raise failure(f"Online store read failed in {self.path}", e) from e
        finally:
            txn.abort()

    # -- watermarks ---------------------------------------------------------------------
    def watermark(self, uid: int | str, txn: lmdb.Transaction[bytes] | None = None) -> int:
        """The last commit of the group ``uid`` (its table name) applied here (0: none)."""
        if txn is None:
            with self.read() as own:
                return self.watermark(uid, own)
        raw = txn.get(db_name(uid), db=self.db(b"meta"))
        return _WATERMARK.unpack(raw)[0] if raw else 0

    def set_watermark(self, txn: lmdb.Transaction[bytes], uid: int | str, commit_id: int) -> None:
        txn.put(db_name(uid), _WATERMARK.pack(commit_id), db=self.db(b"meta"))

    def drop(self, uid: int | str) -> None:
        """Forget a group (deleted, or online disabled)."""
        name = db_name(uid)

        def run(txn: lmdb.Transaction[bytes]) -> None:
            txn.drop(self.db(name), delete=True)
            txn.delete(name, db=self.db(b"meta"))

        self.write(run, name)
        self._dbs.pop(name, None)

    def count(self, uid: int | str) -> int:
        name = db_name(uid)
        with self.read(name) as txn:
            return int(txn.stat(self.db(name))["entries"])

    def legacy_names(self) -> list[bytes]:
        """Databases named by a catalog id (``g<id>``, before groups were named by uid): left
        behind by an older lakebox, never read again; ``forget_legacy`` drops them."""
        with self.read() as txn:
            return [key for key, _ in txn.cursor() if _LEGACY_NAME.match(key)]

    def forget_legacy(self) -> int:
        """Drop the legacy ``g<id>`` databases and their watermarks; returns how many."""
        names = self.legacy_names()
        for name in names:

            def run(txn: lmdb.Transaction[bytes], name: bytes = name) -> None:
                txn.drop(self.db(name), delete=True)
                txn.delete(name, db=self.db(b"meta"))

            self.write(run, name)
            self._dbs.pop(name, None)
        return len(names)

    def stored_box_id(self) -> str | None:
        """The box id recorded in the environment (None: none yet)."""
        with self.read() as txn:
            raw = txn.get(BOX_ID_KEY, db=self.db(b"meta"))
        return raw.decode(errors="replace") if raw is not None else None


def _data_size(path: Path) -> int:
    data = path / "data.mdb"
    return data.stat().st_size if data.exists() else 0
