"""One bundle of engines per box per process, shared by every ``Project`` of that box.

A notebook that runs ``lakebox.connect(path)`` twice, a server and a TUI in one process, or a
``Project`` that was dropped without ``close()`` must all see one LMDB environment (LMDB
refuses a second one per process), one catalog writer and one write lock object per group
(so the lock is re-entrant across api objects). ``acquire`` hands out the bundle with a
reference count; ``release`` closes it when the last project lets go. A forked child
inherits the bundle, and every engine reopens itself there on first use (they check the pid).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.box import Box
from lakebox.catalog.assets import AssetStore
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.catalog.views import ViewStore
from lakebox.errors import BoxMovedWarning

if TYPE_CHECKING:  # built on first use (pyiceberg, DuckDB, LMDB): metadata commands read the catalog only
    from lakebox.offline.warehouse import Warehouse
    from lakebox.online.store import OnlineStore
    from lakebox.write.coordinator import Writer


@dataclass(eq=False)
class Engines:
    """The engines of one box. Api objects get it from their ``Project`` and call engines
    through their public methods only."""

    box: Box
    catalog: CatalogDB
    groups: GroupStore
    views: ViewStore
    assets: AssetStore
    # The warehouse (pyiceberg), online store (LMDB) and write coordinator are built on first
    # use, so `lakebox fg list` and other catalog reads never import pyiceberg, DuckDB or LMDB.
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _build_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, box: Box) -> Engines:
        box_id = box.box_id  # each part checks it holds this box's id (or adopts it)
        catalog = CatalogDB(box.catalog_db, box_id=box_id, create=False)
        return cls(box=box, catalog=catalog, groups=GroupStore(catalog), views=ViewStore(catalog),
                   assets=AssetStore(catalog))  # fmt: skip

    @property
    def warehouse(self) -> Warehouse:
        return self._engine("warehouse")

    @property
    def online(self) -> OnlineStore:
        return self._engine("online")

    @property
    def writer(self) -> Writer:
        return self._engine("writer")

    def _engine(self, name: str) -> Any:
        found = self._built.get(name)
        if found is not None:
            return found
        with self._build_lock:  # one of each per box per process, even when threads race
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def _build(self, name: str) -> Any:
        box_id = self.box.box_id
        if name == "warehouse":
            from lakebox.offline.warehouse import Warehouse

            return Warehouse(self.box.warehouse, self.box.warehouse_origin, box_id=box_id)
        if name == "online":
            from lakebox.online.store import OnlineStore

            return OnlineStore(self.box.online, box_id=box_id)
        from lakebox.write.coordinator import Writer

        warehouse, online = self._built.get("warehouse"), self._built.get("online")  # under the lock
        if warehouse is None:
            warehouse = self._built["warehouse"] = self._build("warehouse")
        if online is None:
            online = self._built["online"] = self._build("online")
        return Writer(self.box, self.groups, warehouse, online)

    def close(self) -> None:
        writer = self._built.get("writer")
        if writer is not None:  # background statistics write to the catalog: let them finish
            writer.wait_statistics()
        self.catalog.close()
        for name in ("online", "warehouse"):  # only what was built
            built = self._built.get(name)
            if built is not None:
                built.close()


_lock = threading.Lock()
_open: dict[Path, tuple[Engines, int]] = {}


def acquire(box: Box) -> Engines:
    """The shared engines of ``box`` in this process (opened on first use)."""
    with _lock:
        found = _open.get(box.root)
        if found is not None:
            engines, count = found
            _open[box.root] = (engines, count + 1)
            return engines
        engines = Engines.open(box)
        _open[box.root] = (engines, 1)
    _warn_if_moved(box)
    return engines


_warned: set[Path] = set()


def _warn_if_moved(box: Box) -> None:
    """Once per box per process: a moved box misleads other engines until it is relocated."""
    from lakebox.ops.relocate import moved

    if box.root in _warned or not moved(box):
        return
    _warned.add(box.root)
    warnings.warn(
        f"The box {box.root} was copied or moved. lakebox reads and writes it correctly, but its Iceberg "
        "metadata still names the original location, so other engines (Spark, Trino, pyiceberg) would read "
        f"the original files. Run `lakebox box relocate {box.root}` to rewrite it for this place.",
        BoxMovedWarning,
        stacklevel=4,
    )


def release(engines: Engines) -> None:
    """Give back one reference; the last one closes the engines."""
    with _lock:
        found = _open.get(engines.box.root)
        if found is None or found[0] is not engines:
            return  # already closed (or replaced after a close): nothing of ours to release
        _, count = found
        if count > 1:
            _open[engines.box.root] = (engines, count - 1)
            return
        del _open[engines.box.root]
    engines.close()


def open_count(box_root: Path) -> int:
    """How many projects of this process hold the box's engines (for tests and diagnostics)."""
    with _lock:
        found = _open.get(box_root)
        return found[1] if found else 0
