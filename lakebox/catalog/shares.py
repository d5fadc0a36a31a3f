"""Read-only shares of this project's assets with other projects (migration 022)."""

from __future__ import annotations

import builtins
import sqlite3
from typing import Any

from lakebox.catalog.audit import now_iso, record
from lakebox.catalog.db import CatalogDB
from lakebox.errors import AlreadyExistsError, NotFoundError, ValidationError
from lakebox.names import check_name

ACCESS = ("read",)


class ShareStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def grant(self, kind: str, name: str, version: int, grantee: str, access: str = "read") -> None:
        check_name(grantee, "project name")
        if access not in ACCESS:
            raise ValidationError(f"access={access!r}: a project can only be given read access ({list(ACCESS)}).")
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO shares (kind, name, version, grantee, access, created_at) VALUES (?,?,?,?,?,?)",
                    (kind, name, version, grantee, access, now_iso()),
                )
                record(conn, "share.grant", f"{kind}:{name}:{version}", None, grantee=grantee, access=access)
        except sqlite3.IntegrityError as e:
            raise AlreadyExistsError(f"{kind} {name} v{version} is already shared with {grantee!r}.") from e

    def revoke(self, kind: str, name: str, version: int, grantee: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE shares SET revoked_at = ? WHERE kind = ? AND name = ? AND version = ? AND grantee = ? "
                "AND revoked_at IS NULL",
                (now_iso(), kind, name, version, grantee),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"{kind} {name} v{version} is not shared with {grantee!r}.")
            record(conn, "share.revoke", f"{kind}:{name}:{version}", None, grantee=grantee)

    def access(self, kind: str, name: str, version: int, grantee: str) -> str | None:
        rows = self.db.query(
            "SELECT access FROM shares WHERE kind = ? AND name = ? AND version = ? AND grantee = ? AND revoked_at IS NULL",
            (kind, name, version, grantee),
        )
        return str(rows[0]["access"]) if rows else None

    def list(self, kind: str | None = None, name: str | None = None, version: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT kind, name, version, grantee, access, created_at FROM shares WHERE revoked_at IS NULL "
            "AND (:kind IS NULL OR kind = :kind) AND (:name IS NULL OR name = :name) "
            "AND (:version IS NULL OR version = :version) ORDER BY id",
            {"kind": kind, "name": name, "version": version},
        )
        return [dict(r) for r in rows]

    def grantees(self, kind: str, name: str, version: int) -> builtins.list[str]:
        """Every project this asset was ever shared with (revoked shares too: they may have
        read it while the share lived), in the order first granted."""
        rows = self.db.query(
            "SELECT grantee, MIN(id) AS first FROM shares WHERE kind = ? AND name = ? AND version = ? "
            "GROUP BY grantee ORDER BY first",
            (kind, name, version),
        )
        return [str(r["grantee"]) for r in rows]
