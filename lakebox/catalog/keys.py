"""API keys: shown once, stored as salted hashes, compared in constant time, revocable; owned
by a principal whose role bounds them, optionally expiring, rotatable, with their last use.

Roles (per project, i.e. per box) map to scopes:

* ``owner``: everything (``admin``: keys, users, the audit log);
* ``editor``: read online and offline, ``write``, ``predict``;
* ``viewer``: read online and offline;
* ``serving``: ``read:online`` and ``predict`` only (feature vectors and predictions).

A key's effective scopes are its own scopes within its principal's *current* role, so a
role change or removal takes effect on the next request. Keys without a principal (made
before principals existed, or with ``principal=None``) keep exactly their own scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lakebox.catalog.audit import now_iso, record
from lakebox.catalog.db import CatalogDB
from lakebox.errors import AlreadyExistsError, AuthError, NotFoundError, ValidationError
from lakebox.names import check_name

SCOPES = ("read:online", "read:offline", "write", "predict", "admin")
DEFAULT_SCOPES = ("read:online", "read:offline")
PREFIX = "lbk"
ROLES: dict[str, tuple[str, ...]] = {
    "owner": SCOPES,
    "editor": ("read:online", "read:offline", "write", "predict"),
    "viewer": ("read:online", "read:offline"),
    "serving": ("read:online", "predict"),
}
LAST_USE_EVERY_S = 60.0
_DURATION = re.compile(r"([1-9][0-9]{0,5})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class ApiKey:
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None
    principal: str | None = None
    role: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None
    rotated_at: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= now_iso()

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        """The key's scopes within its principal's role (all of them for a key without one)."""
        if self.principal is None:
            return self.scopes
        allowed = ROLES.get(self.role or "", ())
        return tuple(s for s in self.scopes if s in allowed)

    def allows(self, scope: str) -> bool:
        effective = self.effective_scopes
        return scope in effective or "admin" in effective


def parse_expiry(text: str) -> str:
    """``30d``, ``12h``, ``90m``, ``2w`` from now, or an ISO date/time; returns ISO-8601 UTC."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        at = datetime.now(UTC) + timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as e:
            raise ValidationError(f"Expiry {text!r} is neither a duration (30d, 12h, 90m, 2w) nor an ISO date.") from e
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if at <= datetime.now(UTC):
        raise ValidationError(f"Expiry {text!r} is in the past.")
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


_KEYS = (
    "SELECT k.name, k.prefix, k.salt, k.hash, k.scopes, k.created_at, k.revoked_at, k.expires_at, k.last_used_at, "
    "k.rotated_at, p.name AS principal, p.role AS role, p.removed_at AS principal_removed_at "
    "FROM api_keys k LEFT JOIN principals p ON p.id = k.principal_id"
)
_ALL_KEYS = _KEYS + " ORDER BY k.id"
_KEY_BY_PREFIX = _KEYS + " WHERE k.prefix = ?"


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        row["name"], row["prefix"], tuple(json.loads(row["scopes"])), row["created_at"], row["revoked_at"],
        row["principal"], row["role"], row["expires_at"], row["last_used_at"], row["rotated_at"],
    )  # fmt: skip


class KeyStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db
        self._last_use: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        scopes: list[str] | tuple[str, ...] | None = None,
        principal: str | None = None,
        expires: str | None = None,
        actor: str | None = None,
    ) -> str:
        """Create a key; returns the secret (the only time it is ever shown).

        With ``principal``, the scopes default to the principal's role and may not exceed it.
        ``expires``: a duration (``30d``) or an ISO date; default never."""
        check_name(name, "API key name")
        expires_at = parse_expiry(expires) if expires else None
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        try:
            with self.db.write() as conn:
                principal_id, role = self._principal(conn, principal)
                chosen = tuple(scopes) if scopes else (ROLES[role] if role else DEFAULT_SCOPES)
                unknown = [s for s in chosen if s not in SCOPES]
                if unknown or not chosen:
                    raise ValidationError(f"Unknown or no scopes {unknown}; choose from {list(SCOPES)}.")
                beyond = [s for s in chosen if role and s not in ROLES[role]]
                if role and beyond:
                    raise ValidationError(
                        f"{principal!r} is {role}: a key of theirs cannot hold {beyond} (the role allows "
                        f"{list(ROLES[role])}). Change the role with `lakebox users set-role` first."
                    )
                # a revoked key's name may be used again (its row is history, not a reservation)
                conn.execute("DELETE FROM api_keys WHERE name = ? AND revoked_at IS NOT NULL", (name,))
                conn.execute(
                    "INSERT INTO api_keys (name, prefix, salt, hash, scopes, created_at, principal_id, expires_at) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (name, prefix, salt, _digest(salt, secret), json.dumps(list(chosen)),
                     datetime.now(UTC).isoformat(timespec="seconds"), principal_id, expires_at),
                )  # fmt: skip
                record(conn, "key.create", f"key:{name}", actor, owner=principal, scopes=list(chosen),
                       expires_at=expires_at)  # fmt: skip
        except sqlite3.IntegrityError as e:
            raise AlreadyExistsError(f"An active API key named {name!r} exists; revoke it or pick another name.") from e
        return f"{PREFIX}_{prefix}_{secret}"

    def _principal(self, conn: sqlite3.Connection, name: str | None) -> tuple[int | None, str | None]:
        if name is None:
            return None, None
        row = conn.execute("SELECT id, role FROM principals WHERE name = ? AND removed_at IS NULL", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"No principal named {name!r}; add one with `lakebox users add {name} --role viewer`.")
        return int(row[0]), str(row[1])

    def list(self) -> list[ApiKey]:
        rows = self.db.query(_ALL_KEYS)
        return [_key(r) for r in rows]

    def any_active(self) -> bool:
        return bool(self.db.query("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"))

    def revoke(self, name: str, actor: str | None = None) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(timespec="seconds"), name),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"No active API key named {name!r}.")
            record(conn, "key.revoke", f"key:{name}", actor)

    def rotate(self, name: str, actor: str | None = None) -> str:
        """Replace the secret of key ``name`` (same name, scopes, principal, expiry); the old
        secret stops working at once. Returns the new secret (shown once)."""
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET prefix = ?, salt = ?, hash = ?, rotated_at = ? WHERE name = ? AND revoked_at IS NULL",
                (prefix, salt, _digest(salt, secret), now_iso(), name),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"No active API key named {name!r} to rotate.")
            record(conn, "key.rotate", f"key:{name}", actor)
        return f"{PREFIX}_{prefix}_{secret}"

    def verify(self, token: str | None) -> ApiKey:
        """The key for a presented secret; AuthError for a missing, malformed, wrong, revoked or
        expired one, or one whose principal was removed."""
        if not token:
            raise AuthError("An API key is required: send 'Authorization: Bearer <key>'.")
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise AuthError("The API key is malformed.")
        rows = self.db.query(
            _KEY_BY_PREFIX,
            (parts[1],),
        )
        # Always hash, so a wrong prefix costs the same as a wrong secret.
        salt = rows[0]["salt"] if rows else b"\0" * 16
        expected = rows[0]["hash"] if rows else b"\0" * 32
        if not hmac.compare_digest(_digest(salt, parts[2]), expected) or not rows:
            raise AuthError("The API key is not valid.", key_prefix=parts[1][:8])
        row = rows[0]
        key = _key(row)
        if key.revoked_at is not None:
            raise AuthError("The API key has been revoked.", key=key.name)
        if key.expired:
            raise AuthError(f"The API key {key.name!r} expired at {key.expires_at}; create a new one.", key=key.name)
        if row["principal_removed_at"] is not None:
            raise AuthError(f"The principal {key.principal!r} of this key was removed.", key=key.name)
        self._touch(key.name)
        return key

    def _touch(self, name: str) -> None:
        """Record the key's last use, at most once a minute per key and process (a catalog
        write per request would cost more than the request)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_use.get(name, -LAST_USE_EVERY_S) < LAST_USE_EVERY_S:
                return
            self._last_use[name] = now
        with self.db.write() as conn:
            conn.execute("UPDATE api_keys SET last_used_at = ? WHERE name = ? AND revoked_at IS NULL", (now_iso(), name))


class Principals:
    """Users and services of this box's project, each with one role."""

    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    def add(self, name: str, role: str = "viewer", actor: str | None = None) -> None:
        check_name(name, "principal name")
        _check_role(role)
        try:
            with self.db.write() as conn:
                conn.execute("DELETE FROM principals WHERE name = ? AND removed_at IS NOT NULL "
                             "AND NOT EXISTS (SELECT 1 FROM api_keys WHERE principal_id = principals.id)", (name,))  # fmt: skip
                conn.execute("INSERT INTO principals (name, role, created_at) VALUES (?,?,?)", (name, role, now_iso()))
                record(conn, "principal.add", f"principal:{name}", actor, role=role)
        except sqlite3.IntegrityError as e:
            raise AlreadyExistsError(f"A principal named {name!r} exists; change its role with `lakebox users set-role`.") from e

    def set_role(self, name: str, role: str, actor: str | None = None) -> None:
        _check_role(role)
        with self.db.write() as conn:
            old = conn.execute("SELECT role FROM principals WHERE name = ? AND removed_at IS NULL", (name,)).fetchone()
            if old is None:
                raise NotFoundError(f"No principal named {name!r}.")
            conn.execute("UPDATE principals SET role = ? WHERE name = ? AND removed_at IS NULL", (role, name))
            record(conn, "role.set", f"principal:{name}", actor, role=role, previous=old[0])

    def remove(self, name: str, actor: str | None = None) -> None:
        """Remove a principal: every key of theirs stops working at once (and is revoked)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM principals WHERE name = ? AND removed_at IS NULL", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"No principal named {name!r}.")
            at = now_iso()
            conn.execute("UPDATE principals SET removed_at = ? WHERE id = ?", (at, row[0]))
            revoked = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE principal_id = ? AND revoked_at IS NULL", (at, row[0])
            ).rowcount
            record(conn, "principal.remove", f"principal:{name}", actor, keys_revoked=revoked)

    def list(self) -> list[dict[str, object]]:
        rows = self.db.query(
            "SELECT p.name, p.role, p.created_at, p.removed_at, "
            "(SELECT count(*) FROM api_keys k WHERE k.principal_id = p.id AND k.revoked_at IS NULL) AS keys "
            "FROM principals p ORDER BY p.id"
        )
        return [
            {"name": r["name"], "role": r["role"], "scopes": list(ROLES[r["role"]]), "created_at": r["created_at"],
             "removed_at": r["removed_at"], "active_keys": r["keys"]}
            for r in rows
        ]  # fmt: skip


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}; choose from {list(ROLES)}.")
