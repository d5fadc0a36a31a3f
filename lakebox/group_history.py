"""Time-travel history of a feature group: retention, expiry, maintenance and pins.

A mixin of ``FeatureGroup`` (split out to keep that module small); every change goes through
the box's write coordinator, as in the rest of ``FeatureGroup``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self

from lakebox.errors import ValidationError
from lakebox.names import check_name
from lakebox.offline import maintenance
from lakebox.timeutil import to_millis

if TYPE_CHECKING:
    from lakebox.catalog.groups import CommitRow, GroupRow
    from lakebox.engines import Engines
    from lakebox.offline.table import GroupTable
    from lakebox.write.coordinator import Writer


class HistoryMixin:
    """Retention policy, expiry, maintenance and pins (``FeatureGroup`` provides the rest)."""

    _row: GroupRow
    _engines: Engines

    if TYPE_CHECKING:  # provided by FeatureGroup
        @property
        def id(self) -> int: ...
        @property
        def _writer(self) -> Writer: ...
        @property
        def _table(self) -> GroupTable: ...
        def _reload(self) -> Self: ...
        def _stored_schema(self) -> Any: ...
        def _resolve_commit(self, when: Any, table: Any = None, allow_expired: bool = False) -> CommitRow: ...
        def commits(self) -> list[CommitRow]: ...
        def compact(self) -> CommitRow | None: ...

    # -- history retention ----------------------------------------------------------------
    def set_retention(self, max_age: timedelta | None = None, keep_last: int | None = None) -> Self:
        """Keep time-travel history for at least ``max_age`` and at least the last ``keep_last``
        commits; older commits are expired (their files deleted) after each commit. Pinned
        commits (training datasets) are always kept. ``set_retention()`` keeps everything."""
        if max_age is not None and (not isinstance(max_age, timedelta) or max_age.total_seconds() < 0):
            raise ValidationError("max_age must be a non-negative datetime.timedelta.")
        if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
            raise ValidationError("keep_last must be a positive integer.")
        settings = dict(self._row.settings)
        if max_age is None and keep_last is None:
            settings.pop("retention", None)
        else:
            settings["retention"] = {
                "max_age_s": max_age.total_seconds() if max_age is not None else None,
                "keep_last": keep_last or 1,
            }
        self._engines.groups.update(self.id, settings=settings)
        return self._reload()

    @property
    def retention(self) -> dict[str, Any] | None:
        return self._row.settings.get("retention")

    def expire_commits(self, older_than: Any = None, keep_last: int = 1) -> list[int]:
        """Expire commits older than ``older_than`` (default: all but the newest ``keep_last``)
        and delete the files only they referenced. Returns the expired commit ids."""
        if not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 1:
            raise ValidationError(f"keep_last must be a positive integer (the newest commits to keep), got {keep_last!r}.")
        if self._stored_schema() is None:
            return []
        cutoff = to_millis(older_than, "older_than") if older_than is not None else None
        return self._writer.expire(self._row, cutoff, keep_last)

    def maintain(self, orphan_grace_s: float = 3600.0, compact: bool = True) -> dict[str, Any]:
        """Apply the retention policy, compact small files, and delete unreferenced files
        (including orphans of killed writers older than ``orphan_grace_s``)."""
        report: dict[str, Any] = {"expired_commits": [], "compacted": None, "deleted_files": 0}
        if self._stored_schema() is None:
            return report
        report["expired_commits"] = self._writer.apply_retention(self._row, vacuum=False)
        if compact:
            commit = self.compact()
            report["compacted"] = commit.commit_id if commit is not None else None
        report["deleted_files"] = self._writer.vacuum(self._row, grace_s=orphan_grace_s)
        self._writer.sync_commits(self._row)
        return report

    def pin_commit(self, commit: int | CommitRow, name: str) -> None:
        """Protect a commit from retention under ``name`` (an Iceberg tag)."""
        check_name(name, "pin name")
        maintenance.pin(self._table, self._resolve_commit(commit).snapshot_id, name)

    def unpin_commit(self, name: str) -> None:
        maintenance.unpin(self._table, name)

    def pins(self) -> dict[str, int]:
        """``{pin name: commit id}`` of the pinned commits."""
        if self._stored_schema() is None:
            return {}
        by_snapshot = {c.snapshot_id: c.commit_id for c in self.commits()}
        return {name: by_snapshot.get(sid, -1) for name, sid in maintenance.pins(self._table.load()).items()}

