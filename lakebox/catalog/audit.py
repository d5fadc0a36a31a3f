"""The audit log: who did what to which object, when, in this box's project.

Writes (commits, creating and deleting groups, views, models) are recorded by catalog
triggers (migration 021); key, principal and role changes by the code making them, in the
same transaction; failed authentication by the server, at most ``FAILED_AUTH_PER_MINUTE``
rows a minute (a flood of bad keys must not become a flood of catalog writes)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakebox import jsonpolicy
from lakebox.catalog.db import CatalogDB

FAILED_AUTH_PER_MINUTE = 60


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    principal: str | None
    project: str | None
    action: str
    object: str | None
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at, "principal": self.principal or "local", "project": self.project,
            "action": self.action, "object": self.object, "outcome": self.outcome, "details": self.details,
        }  # fmt: skip


def record(
    conn: sqlite3.Connection,
    action: str,
    object: str | None = None,
    principal: str | None = None,
    outcome: str = "ok",
    project: str | None = None,
    **details: Any,
) -> None:
    """Append an entry inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO audit_log (at, principal, project, action, object, outcome, details) VALUES (?,?,?,?,?,?,?)",
        (now_iso(), principal, project, action, object, outcome, jsonpolicy.dumps(details)),
    )


class AuditLog:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._window = (0.0, 0, 0)  # minute start, rows written, rows suppressed

    def record(self, action: str, object: str | None = None, principal: str | None = None, outcome: str = "ok",
               project: str | None = None, **details: Any) -> None:  # fmt: skip
        with self.db.write() as conn:
            record(conn, action, object, principal, outcome, project, **details)

    def refused(self, action: str, reason: str, client: str | None, path: str, key_prefix: str | None = None,
                key: str | None = None) -> None:  # fmt: skip
        """Record a refused request (``auth.failed``: 401, ``auth.forbidden``: 403), at most
        ``FAILED_AUTH_PER_MINUTE`` a minute; the next row counts the ones suppressed."""
        with self._lock:
            start, written, suppressed = self._window
            now = time.monotonic()
            if now - start >= 60:
                start, written = now, 0
            if written >= FAILED_AUTH_PER_MINUTE:
                self._window = (start, written, suppressed + 1)
                return
            self._window = (start, written + 1, 0)
        details: dict[str, Any] = {"reason": reason, "client": client, "path": path}
        if key_prefix:
            details["key_prefix"] = key_prefix
        if suppressed:
            details["suppressed_before"] = suppressed
        self.record(action, f"key:{key}" if key else None, key, "denied", **details)

    def set_principal(self, object: str, commit_id: int, principal: str) -> None:
        """Name who made a write the triggers recorded (the server does, for remote writes)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE audit_log SET principal = ? WHERE id = (SELECT max(id) FROM audit_log WHERE object = ? "
                "AND action LIKE 'write.%' AND json_extract(details, '$.commit_id') = ?)",
                (principal, object, commit_id),
            )

    def entries(
        self,
        action: str | None = None,
        principal: str | None = None,
        object: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first. ``action`` matches a prefix (``write`` finds every write); ``object``
        a prefix too (``feature_group:players`` finds every version); ``principal``
        ``local`` finds in-process actions."""
        rows = self.db.query(
            "SELECT id, at, principal, project, action, object, outcome, details FROM audit_log "
            "WHERE (:action IS NULL OR action = :action OR action LIKE :action_prefix ESCAPE '\\') "
            "AND (:principal IS NULL OR coalesce(principal, 'local') = :principal) "
            "AND (:object IS NULL OR object = :object OR object LIKE :object_prefix ESCAPE '\\') "
            "AND (:since IS NULL OR at >= :since) ORDER BY id DESC LIMIT :limit",
            {
                "action": action, "action_prefix": _prefix(action, "."), "principal": principal, "object": object,
                "object_prefix": _prefix(object, ":"), "since": since, "limit": int(limit),
            },  # fmt: skip
        )
        return [
            AuditEntry(r["id"], r["at"], r["principal"], r["project"], r["action"], r["object"], r["outcome"],
                       json.loads(r["details"] or "{}"))
            for r in rows
        ]  # fmt: skip


def _prefix(value: str | None, separator: str) -> str | None:
    if value is None:
        return None
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + separator + "%"
