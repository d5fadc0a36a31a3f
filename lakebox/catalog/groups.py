"""Feature-group metadata, their features and the commit log, in the SQLite catalog."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakebox import jsonpolicy
from lakebox.catalog.db import CatalogDB
from lakebox.errors import AlreadyExistsError


@dataclass(frozen=True)
class FeatureRow:
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class GroupRow:
    id: int
    name: str
    version: int
    description: str
    primary_key: tuple[str, ...]
    event_time: str | None
    online_enabled: bool
    table_name: str
    settings: dict[str, Any]
    created_at: str
    features: tuple[FeatureRow, ...] = field(default=())


@dataclass(frozen=True)
class CommitRow:
    commit_id: int
    snapshot_id: int
    committed_ms: int
    kind: str
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    expired: bool = False

    @property
    def committed_on(self) -> datetime:
        return datetime.fromtimestamp(self.committed_ms / 1000, tz=UTC)


_UPDATES = {
    "description": "UPDATE feature_groups SET description = ? WHERE id = ?",
    "online_enabled": "UPDATE feature_groups SET online_enabled = ? WHERE id = ?",
    "settings": "UPDATE feature_groups SET settings = ? WHERE id = ?",
}


@dataclass(frozen=True)
class SummaryRow:
    """A stored statistics summary (``lakebox.stats.Summary.from_dict(row.summary)``)."""

    commit_id: int
    computed_at: str
    exact: bool
    summary: dict[str, Any]


class GroupStore:
    """CRUD over ``feature_groups``, ``features`` and ``commits``."""

    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    # -- groups -------------------------------------------------------------------------
    def create(
        self,
        *,
        name: str,
        version: int,
        description: str,
        primary_key: Sequence[str],
        event_time: str | None,
        online_enabled: bool,
        table_name: str,
        features: Sequence[FeatureRow] = (),
        settings: dict[str, Any] | None = None,
    ) -> GroupRow:
        created = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            group_id = self._insert(
                name, version, description, primary_key, event_time, online_enabled, table_name, features, settings, created
            )
        except sqlite3.IntegrityError as e:  # another process created it between our check and insert
            raise AlreadyExistsError(f"Feature group {name} v{version} already exists.", name=name, version=version) from e
        found = self.get_by_id(group_id)
        assert found is not None
        return found

    def _insert(
        self,
        name: str,
        version: int,
        description: str,
        primary_key: Sequence[str],
        event_time: str | None,
        online_enabled: bool,
        table_name: str,
        features: Sequence[FeatureRow],
        settings: dict[str, Any] | None,
        created: str,
    ) -> int:
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO feature_groups (name, version, description, primary_key, event_time,"
                " online_enabled, table_name, settings, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    name,
                    version,
                    description,
                    json.dumps(list(primary_key)),
                    event_time,
                    int(online_enabled),
                    table_name,
                    json.dumps(settings or {}),
                    created,
                ),
            )
            group_id = int(cursor.lastrowid or 0)
            _insert_features(conn, group_id, features)
        return group_id

    def get(self, name: str, version: int) -> GroupRow | None:
        rows = self.db.query("SELECT * FROM feature_groups WHERE name = ? AND version = ?", (name, version))
        return self._with_features(rows[0]) if rows else None

    def get_by_id(self, group_id: int) -> GroupRow | None:
        rows = self.db.query("SELECT * FROM feature_groups WHERE id = ?", (group_id,))
        return self._with_features(rows[0]) if rows else None

    def latest_version(self, name: str) -> int | None:
        rows = self.db.query("SELECT MAX(version) AS v FROM feature_groups WHERE name = ?", (name,))
        return rows[0]["v"] if rows and rows[0]["v"] is not None else None

    def list(self, name: str | None = None) -> list[GroupRow]:
        if name is None:
            rows = self.db.query("SELECT * FROM feature_groups ORDER BY name, version")
        else:
            rows = self.db.query("SELECT * FROM feature_groups WHERE name = ? ORDER BY version", (name,))
        return [self._with_features(row) for row in rows]

    def names(self) -> builtins.list[str]:
        return [row["name"] for row in self.db.query("SELECT DISTINCT name FROM feature_groups ORDER BY name")]

    def delete(self, group_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM feature_groups WHERE id = ?", (group_id,))

    def set_features(self, group_id: int, features: Sequence[FeatureRow]) -> None:
        """Record the schema (once, from the first insert); keeps existing descriptions."""
        with self.db.write() as conn:
            old = {
                row["name"]: row["description"]
                for row in conn.execute("SELECT name, description FROM features WHERE group_id = ?", (group_id,))
            }
            conn.execute("DELETE FROM features WHERE group_id = ?", (group_id,))
            _insert_features(
                conn,
                group_id,
                [FeatureRow(f.name, f.type, f.description or old.get(f.name, "")) for f in features],
            )

    def update(self, group_id: int, **values: Any) -> None:
        unknown = set(values) - set(_UPDATES)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        encoded = {k: json.dumps(v) if k == "settings" else (int(v) if k == "online_enabled" else v) for k, v in values.items()}
        with self.db.write() as conn:  # one transaction for all columns
            for column, value in encoded.items():
                conn.execute(_UPDATES[column], (value, group_id))

    def update_feature_description(self, group_id: int, feature: str, description: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE features SET description = ? WHERE group_id = ? AND name = ?", (description, group_id, feature)
            )

    # -- statistics and validation reports ------------------------------------------------
    def save_statistics(self, group_id: int, commit_id: int, stats: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO statistics (group_id, commit_id, computed_at, stats) VALUES (?,?,?,?)",
                (group_id, commit_id, datetime.now(UTC).isoformat(timespec="milliseconds"), json.dumps(stats)),
            )

    def statistics(self, group_id: int, commit_id: int) -> dict[str, Any] | None:
        rows = self.db.query("SELECT stats FROM statistics WHERE group_id = ? AND commit_id = ?", (group_id, commit_id))
        return json.loads(rows[0]["stats"]) if rows else None

    # statistics summaries: the running, mergeable summary of a group after each commit
    def save_summary(self, group_id: int, commit_id: int, summary: dict[str, Any], exact: bool) -> None:
        """Store ``lakebox.stats.Summary.to_dict()`` as the group's summary after ``commit_id``
        (replacing one stored before for that commit, e.g. by ``fg.compute_statistics()``)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO statistics_summaries (group_id, commit_id, computed_at, exact, summary)"
                " VALUES (?,?,?,?,?)",
                (group_id, commit_id, datetime.now(UTC).isoformat(timespec="milliseconds"), int(bool(exact)),
                 json.dumps(summary, allow_nan=False)),
            )

    def summary(self, group_id: int, commit_id: int | None = None) -> SummaryRow | None:
        """The latest summary stored at or before ``commit_id`` (default: the latest of all), or
        None. Check ``row.commit_id``: a summary of an older commit lacks the commits since."""
        if commit_id is None:
            rows = self.db.query(
                "SELECT commit_id, computed_at, exact, summary FROM statistics_summaries WHERE group_id = ?"
                " ORDER BY commit_id DESC LIMIT 1",
                (group_id,),
            )
        else:
            rows = self.db.query(
                "SELECT commit_id, computed_at, exact, summary FROM statistics_summaries"
                " WHERE group_id = ? AND commit_id <= ? ORDER BY commit_id DESC LIMIT 1",
                (group_id, commit_id),
            )
        if not rows:
            return None
        row = rows[0]
        return SummaryRow(row["commit_id"], row["computed_at"], bool(row["exact"]), json.loads(row["summary"]))

    def save_report(self, group_id: int, commit_id: int | None, success: bool, mode: str, report: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO validation_reports (group_id, commit_id, created_at, success, mode, report)"
                " VALUES (?,?,?,?,?,?)",
                (group_id, commit_id, datetime.now(UTC).isoformat(timespec="milliseconds"), int(success), mode,
                 jsonpolicy.dumps(report)),
            )

    def reports(self, group_id: int) -> builtins.list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT commit_id, created_at, success, mode, report FROM validation_reports WHERE group_id = ? ORDER BY id",
            (group_id,),
        )
        return [
            {"commit_id": r["commit_id"], "created_at": r["created_at"], "success": bool(r["success"]), "mode": r["mode"],
             "report": json.loads(r["report"])}
            for r in rows
        ]

    # -- commits ------------------------------------------------------------------------
    def commits(self, group_id: int) -> builtins.list[CommitRow]:
        rows = self.db.query(
            "SELECT commit_id, snapshot_id, committed_ms, kind, rows_inserted, rows_updated, rows_deleted, expired"
            " FROM commits WHERE group_id = ? ORDER BY commit_id",
            (group_id,),
        )
        return [
            CommitRow(
                commit_id=row["commit_id"],
                snapshot_id=row["snapshot_id"],
                committed_ms=row["committed_ms"],
                kind=row["kind"],
                rows_inserted=row["rows_inserted"],
                rows_updated=row["rows_updated"],
                rows_deleted=row["rows_deleted"],
                expired=bool(row["expired"]),
            )
            for row in rows
        ]

    def last_commit_id(self, group_id: int) -> int:
        rows = self.db.query("SELECT MAX(commit_id) AS c FROM commits WHERE group_id = ?", (group_id,))
        return int(rows[0]["c"] or 0)

    def record_commits(self, group_id: int, commits: Iterable[CommitRow]) -> None:
        """Insert commits (idempotent: a commit already recorded is left alone)."""
        with self.db.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO commits (group_id, commit_id, snapshot_id, committed_ms, kind,"
                " rows_inserted, rows_updated, rows_deleted) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        group_id,
                        c.commit_id,
                        c.snapshot_id,
                        c.committed_ms,
                        c.kind,
                        c.rows_inserted,
                        c.rows_updated,
                        c.rows_deleted,
                    )
                    for c in commits
                ],
            )

    def mark_expired(self, group_id: int, snapshot_ids: Iterable[int]) -> None:
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE commits SET expired = 1 WHERE group_id = ? AND snapshot_id = ?",
                [(group_id, s) for s in snapshot_ids],
            )

    # -- helpers ------------------------------------------------------------------------
    def _with_features(self, row: Any) -> GroupRow:
        features = tuple(
            FeatureRow(f["name"], f["type"], f["description"])
            for f in self.db.query(
                "SELECT name, type, description FROM features WHERE group_id = ? ORDER BY position", (row["id"],)
            )
        )
        return GroupRow(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            description=row["description"],
            primary_key=tuple(json.loads(row["primary_key"])),
            event_time=row["event_time"],
            online_enabled=bool(row["online_enabled"]),
            table_name=row["table_name"],
            settings=json.loads(row["settings"]),
            created_at=row["created_at"],
            features=features,
        )


def _insert_features(conn: Any, group_id: int, features: Sequence[FeatureRow]) -> None:
    conn.executemany(
        "INSERT INTO features (group_id, position, name, type, description) VALUES (?,?,?,?,?)",
        [(group_id, i, f.name, f.type, f.description) for i, f in enumerate(features)],
    )
    # the group's feature names, searchable under the group (once, not per feature: migration 006)
    conn.execute(
        "UPDATE assets SET keywords = ? WHERE kind = 'feature_group' AND ref_id = ?",
        (" ".join(f.name for f in features), group_id),
    )
