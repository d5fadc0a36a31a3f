"""Lineage across the projects of one home: another project's asset as a node of this one's.

When project ``lab`` builds a feature view or a training dataset on the group ``orders`` v1
that project ``shop`` shares with it, ``lab``'s catalog gets one asset standing for that group
(kind ``shared_feature_group``, named ``shop::orders``, version 1, parent ``shop``, ``ref_id``
the group's id in ``shop``), and the lineage edges go from it, so ``lab``'s lineage shows the
upstream group as ``shop::orders v1``. Nothing is written into ``shop``'s box: ``shop`` finds
its readers by looking for such assets in the catalogs of the projects it shares with
(``references_to``).
"""

from __future__ import annotations

import sqlite3

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.catalog.db import CatalogDB

SHARED_GROUP = "shared_feature_group"


def qualified(project: str, name: str) -> str:
    """``project::name``: how another project's asset is named in this one."""
    return f"{project}::{name}"


class ProjectLinks:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db
        self.assets = AssetStore(db)

    def reference(self, project: str, name: str, version: int, ref_id: int, description: str = "") -> Asset:
        """The asset standing for group ``name`` v``version`` of ``project`` (id ``ref_id``
        there), created the first time this project uses it."""
        found = self.find(project, name, version)
        if found is not None:
            return found
        try:
            self.assets.add(SHARED_GROUP, qualified(project, name), version, ref_id, description=description,
                            keywords=name, parent=project)  # fmt: skip
        except sqlite3.IntegrityError:
            pass  # another process made it first
        found = self.find(project, name, version)
        assert found is not None
        return found

    def find(self, project: str, name: str, version: int) -> Asset | None:
        rows = self.db.query(
            "SELECT id FROM assets WHERE kind = ? AND name = ? AND version = ? AND parent = ?",
            (SHARED_GROUP, qualified(project, name), version, project),
        )
        return self.assets.by_id(int(rows[0]["id"])) if rows else None
