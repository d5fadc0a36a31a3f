"""``Project`` and ``connect``: open or create a box and hand out its stores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lakebox.box import Box, default_path
from lakebox.catalog.db import CatalogDB
from lakebox.offline.warehouse import Warehouse
from lakebox.online.store import OnlineStore

_current: Project | None = None


class Project:
    """One box, opened in this process. Use ``lakebox.connect(path)``."""

    def __init__(self, box: Box) -> None:
        self._box = box
        self._db = CatalogDB(box.catalog_db)
        self._warehouse = Warehouse(box.warehouse, box.warehouse_origin)
        self._online = OnlineStore(box.online)
        self._feature_store: Any = None

    @property
    def path(self) -> Path:
        return self._box.root

    @property
    def name(self) -> str:
        return self._box.root.name

    def get_feature_store(self) -> Any:
        from lakebox.feature_store import FeatureStore

        if self._feature_store is None:
            self._feature_store = FeatureStore(self)
        return self._feature_store

    def close(self) -> None:
        """Release the catalog connection and the online store (the box stays on disk)."""
        self._db.close()
        self._online.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"


def connect(path: str | os.PathLike[str] | None = None) -> Project:
    """Open the box at ``path`` (created if missing); default ``$LAKEBOX_HOME`` or ``./.lakebox``."""
    global _current
    project = Project(Box.open(default_path() if path is None else path))
    _current = project
    return project


def current_project() -> Project | None:
    """The project ``connect`` opened last in this process (used by experiments)."""
    return _current
