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
from dataclasses import dataclass
from pathlib import Path

from lakebox.box import Box
from lakebox.catalog.assets import AssetStore
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.catalog.views import ViewStore
from lakebox.errors import BoxMovedWarning
from lakebox.offline.warehouse import Warehouse
from lakebox.online.store import OnlineStore
from lakebox.write.coordinator import Writer


@dataclass(eq=False)
class Engines:
    """The engines of one box. Api objects get it from their ``Project`` and call engines
    through their public methods only."""

    box: Box
    catalog: CatalogDB
    warehouse: Warehouse
    online: OnlineStore
    groups: GroupStore
    views: ViewStore
    assets: AssetStore
    writer: Writer

    @classmethod
    def open(cls, box: Box) -> Engines:
        box_id = box.box_id  # each part checks it holds this box's id (or adopts it)
        catalog = CatalogDB(box.catalog_db, box_id=box_id, create=False)
        warehouse = Warehouse(box.warehouse, box.warehouse_origin, box_id=box_id)
        online = OnlineStore(box.online, box_id=box_id)
        groups = GroupStore(catalog)
        return cls(
            box=box,
            catalog=catalog,
            warehouse=warehouse,
            online=online,
            groups=groups,
            views=ViewStore(catalog),
            assets=AssetStore(catalog),
            writer=Writer(box, groups, warehouse, online),
        )

    def close(self) -> None:
        self.catalog.close()
        self.online.close()
        self.warehouse.close()


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
