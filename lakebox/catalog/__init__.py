"""The SQLite catalog: all metadata of a box (DESIGN §1). Engines only; no api objects."""

from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import CommitRow, FeatureRow, GroupRow, GroupStore

__all__ = ["CatalogDB", "CommitRow", "FeatureRow", "GroupRow", "GroupStore"]
