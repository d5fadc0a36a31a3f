"""Assets as plain data, read from the catalog alone: what ``lakebox fg list``, ``fg show``
and ``fg commits`` print.

``FeatureGroup.describe()`` completes the catalog's commit log from the Iceberg table, which
costs pyiceberg, pandas, pyarrow and DuckDB (about 2 s of imports). Listing needs none of it
while the log is in step with Iceberg, which a glance at the table's current ``metadata.json``
(plain JSON, read with the standard library) confirms. A group whose log is behind (a write
that crashed between the Iceberg commit and the log), an external group or a moved box is
described by ``FeatureGroup.describe()`` itself, so the answer is always the same;
``tests/test_startup.py`` checks that both give equal dicts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lakebox import glance
from lakebox.catalog.groups import CommitRow, GroupRow
from lakebox.names import check_name
from lakebox.timeutil import iso

if TYPE_CHECKING:
    from lakebox.box import Box
    from lakebox.engines import Engines
    from lakebox.feature_store import FeatureStore


def group_info(box: Box, row: GroupRow, commits: list[CommitRow]) -> dict[str, Any]:
    """A feature group as plain data, in the shape of ``FeatureGroup.describe()``
    (``glance.group_description``, which the fast ``fg list`` of ``lakebox.entry`` uses too)."""
    from lakebox.ops.relocate import describe_table

    return glance.group_description(
        name=row.name,
        version=row.version,
        description=row.description,
        primary_key=row.primary_key,
        event_time=row.event_time,
        online_enabled=row.online_enabled,
        commit_count=len(commits),
        last_commit_ms=commits[-1].committed_ms if commits else None,
        features=[(f.name, f.type, f.description) for f in row.features],
        iceberg=describe_table(box, row.table_name),
    )


def log_in_step(iceberg: dict[str, Any], commits: list[CommitRow]) -> set[int] | None:
    """The snapshot ids present in the Iceberg table when the catalog's commit log holds every
    lakebox commit of it (``iceberg`` is ``describe_table``'s answer); None when it does not,
    or when the table's metadata cannot be read here (``glance.log_in_step``)."""
    return glance.log_in_step(iceberg, max((c.commit_id for c in commits), default=0))


class MetadataMixin:
    """``Project`` methods that read the catalog only (no Iceberg, DuckDB or LMDB)."""

    if TYPE_CHECKING:  # provided by Project

        @property
        def engines(self) -> Engines: ...

        def get_feature_store(self) -> FeatureStore: ...

    def describe_feature_groups(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every feature group (or every version of ``name``) as ``FeatureGroup.describe()``
        gives it, read from the catalog: what ``lakebox fg list`` prints.

        >>> [g["name"] for g in project.describe_feature_groups()]  # doctest: +SKIP
        ['games', 'players', 'teams']
        """
        if name is not None:
            check_name(name, "feature group name")
        return [self._describe_row(row) for row in self.engines.groups.list(name)]

    def describe_feature_group(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One group (its latest version by default) as ``describe()`` gives it, read from the
        catalog: what ``lakebox fg show`` prints. An unknown name or version raises the
        ``NotFoundError`` of ``fs.get_feature_group`` (with the names that do exist)."""
        row = self._row(name, version)
        if row is None:  # the feature store's own error, with its hints
            return dict(self.get_feature_store().get_feature_group(name, version).describe())
        return self._describe_row(row)

    def describe_commits(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A group's commits, newest first, as ``fg.commit_details()`` gives them (plus each
        ``commit_id``), read from the catalog: what ``lakebox fg commits`` prints."""
        row = self._row(name, version)
        commits = None if row is None or "external" in row.settings else self.engines.groups.commits(row.id)
        if row is not None and commits is not None and row.features:
            from lakebox.ops.relocate import describe_table

            present = log_in_step(describe_table(self.engines.box, row.table_name), commits)
            # a snapshot that left the table is expired, as the feature group's merge marks it
            commits = None if present is None else [c if c.expired or c.snapshot_id in present
                                                     else replace(c, expired=True) for c in commits]  # fmt: skip
        if row is None or commits is None:  # the feature group answers (and raises its own errors)
            group = self.get_feature_store().get_feature_group(name, version)
            details = group.commit_details()
            return {"name": group.name, "version": group.version,
                    "commits": [{"commit_id": commit_id, **info} for commit_id, info in details.items()]}  # fmt: skip
        return {"name": row.name, "version": row.version, "commits": [
            {"commit_id": c.commit_id, "committedOn": iso(c.committed_ms), "rowsInserted": c.rows_inserted,
             "rowsUpdated": c.rows_updated, "rowsDeleted": c.rows_deleted, "kind": c.kind, "expired": c.expired}
            for c in reversed(commits)
        ]}  # fmt: skip

    def _row(self, name: str, version: int | None) -> GroupRow | None:
        check_name(name, "feature group name")
        rows = self.engines.groups.list(name)
        return rows[-1] if rows and version is None else next((r for r in rows if r.version == version), None)

    def _describe_row(self, row: GroupRow) -> dict[str, Any]:
        engines = self.engines
        commits = engines.groups.commits(row.id)
        info = None if "external" in row.settings else group_info(engines.box, row, commits)
        if info is None or (row.features and log_in_step(info["iceberg"], commits) is None):
            info = self.get_feature_store().get_feature_group(row.name, row.version).describe()
        return info


__all__ = ["MetadataMixin", "group_info", "log_in_step"]
