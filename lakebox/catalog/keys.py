"""API keys: shown once, stored as salted hashes, compared in constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from lakebox.catalog.db import CatalogDB
from lakebox.errors import AlreadyExistsError, AuthError, NotFoundError, ValidationError
from lakebox.names import check_name

SCOPES = ("read:online", "read:offline", "write", "predict", "admin")
DEFAULT_SCOPES = ("read:online", "read:offline")
PREFIX = "lbk"


@dataclass(frozen=True)
class ApiKey:
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


class KeyStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def create(self, name: str, scopes: list[str] | tuple[str, ...] | None = None) -> str:
        """Create a key; returns the secret (the only time it is ever shown)."""
        check_name(name, "API key name")
        chosen = tuple(scopes) if scopes is not None else DEFAULT_SCOPES
        unknown = [s for s in chosen if s not in SCOPES]
        if unknown or not chosen:
            raise ValidationError(f"Unknown or no scopes {unknown}; choose from {list(SCOPES)}.")
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        try:
            with self.db.write() as conn:
                # a revoked key's name may be used again (its row is history, not a reservation)
                conn.execute("DELETE FROM api_keys WHERE name = ? AND revoked_at IS NOT NULL", (name,))
                conn.execute(
                    "INSERT INTO api_keys (name, prefix, salt, hash, scopes, created_at) VALUES (?,?,?,?,?,?)",
                    (name, prefix, salt, _digest(salt, secret), json.dumps(list(chosen)),
                     datetime.now(UTC).isoformat(timespec="seconds")),
                )
        except sqlite3.IntegrityError as e:
            raise AlreadyExistsError(f"An active API key named {name!r} exists; revoke it or pick another name.") from e
        return f"{PREFIX}_{prefix}_{secret}"

    def list(self) -> list[ApiKey]:
        rows = self.db.query("SELECT name, prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id")
        return [ApiKey(r["name"], r["prefix"], tuple(json.loads(r["scopes"])), r["created_at"], r["revoked_at"]) for r in rows]

    def any_active(self) -> bool:
        return bool(self.db.query("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"))

    def revoke(self, name: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(timespec="seconds"), name),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"No active API key named {name!r}.")

    def verify(self, token: str | None) -> ApiKey:
        """The key for a presented secret; AuthError for a missing, malformed, wrong or revoked one."""
        if not token:
            raise AuthError("An API key is required: send 'Authorization: Bearer <key>'.")
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise AuthError("The API key is malformed.")
        rows = self.db.query(
            "SELECT name, prefix, salt, hash, scopes, created_at, revoked_at FROM api_keys WHERE prefix = ?", (parts[1],)
        )
        # Always hash, so a wrong prefix costs the same as a wrong secret.
        salt = rows[0]["salt"] if rows else b"\0" * 16
        expected = rows[0]["hash"] if rows else b"\0" * 32
        if not hmac.compare_digest(_digest(salt, parts[2]), expected) or not rows:
            raise AuthError("The API key is not valid.")
        row = rows[0]
        if row["revoked_at"] is not None:
            raise AuthError("The API key has been revoked.")
        return ApiKey(row["name"], row["prefix"], tuple(json.loads(row["scopes"])), row["created_at"], row["revoked_at"])
