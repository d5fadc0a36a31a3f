"""Principals, roles, API keys and the audit log of a project (``Project`` gets these methods
through ``SecurityMixin``). The rules live in ``lakebox.catalog.keys`` and
``lakebox.catalog.audit``; this is the api surface over them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakebox.errors import ValidationError

if TYPE_CHECKING:  # the key and audit stores (hashlib, hmac, secrets) load when a key or the log is used
    from lakebox.catalog.audit import AuditEntry, AuditLog
    from lakebox.catalog.keys import ApiKey, KeyStore, Principals

__all__ = ["ROLES", "SecurityMixin", "create_api_key", "key_info", "since_time"]  # noqa: F822 - ROLES: __getattr__


def __getattr__(name: str) -> Any:
    if name == "ROLES":  # re-exported from the key store, which loads on first use
        from lakebox.catalog.keys import ROLES

        return ROLES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _keys(catalog: Any) -> KeyStore:
    from lakebox.catalog.keys import KeyStore

    return KeyStore(catalog)


def _principals(catalog: Any) -> Principals:
    from lakebox.catalog.keys import Principals

    return Principals(catalog)


def _audit(catalog: Any) -> AuditLog:
    from lakebox.catalog.audit import AuditLog

    return AuditLog(catalog)


def create_api_key(
    project: Any,
    name: str,
    scopes: list[str] | None = None,
    principal: str | None = None,
    expires: str | None = None,
) -> str:
    """Create an API key and return its secret, shown this once (stored only as a hash).

    ``principal``: the user or service it belongs to (its role bounds the scopes, default:
    the role's scopes); ``expires``: ``"30d"``, ``"12h"`` or an ISO date (default: never)."""
    from lakebox.catalog.keys import KeyStore

    return KeyStore(project.catalog).create(name, scopes, principal=principal, expires=expires)


def since_time(text: str) -> str:
    """``1d``/``12h``/``30m``/``2w`` ago, or an ISO date: the lower bound of an audit query."""
    match = re.fullmatch(r"([0-9]{1,6})\s*([mhdw])", text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
        at = datetime.now(UTC) - timedelta(**{unit: int(match[1])})
    else:
        try:
            at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as e:
            raise ValidationError(f"since={text!r} is neither a duration (1d, 12h, 30m, 2w) nor an ISO date.") from e
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SecurityMixin:
    """Users and services (principals) with roles, their keys, and the audit log."""

    catalog: Any

    def add_user(self, name: str, role: str = "viewer") -> None:
        """Add principal ``name`` with ``role``: owner, editor, viewer or serving."""
        _principals(self.catalog).add(name, role)

    def set_user_role(self, name: str, role: str) -> None:
        """Change a principal's role; their keys follow from the next request on."""
        _principals(self.catalog).set_role(name, role)

    def remove_user(self, name: str) -> None:
        """Remove a principal and revoke every key of theirs."""
        _principals(self.catalog).remove(name)

    def get_users(self) -> list[dict[str, Any]]:
        return _principals(self.catalog).list()

    def rotate_api_key(self, name: str) -> str:
        """A new secret for key ``name`` (the old one stops working at once); shown once."""
        return _keys(self.catalog).rotate(name)

    def get_api_key(self, name: str) -> ApiKey | None:
        return next((k for k in _keys(self.catalog).list() if k.name == name), None)

    def get_audit_log(
        self,
        action: str | None = None,
        principal: str | None = None,
        object: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Audit entries, newest first: writes, key/role changes, failed authentication.
        ``action`` and ``object`` match prefixes (``"write"``, ``"feature_group:players"``);
        ``since`` is ``"1d"``-style or an ISO date."""
        return _audit(self.catalog).entries(action, principal, object, since_time(since) if since else None, limit)


def key_info(key: Any) -> dict[str, Any]:
    """What may be shown of a key: never its secret nor its hash."""
    return {
        "name": key.name, "prefix": f"lbk_{key.prefix}", "principal": key.principal, "role": key.role,
        "scopes": list(key.scopes), "effective_scopes": list(key.effective_scopes), "created_at": key.created_at,
        "expires_at": key.expires_at, "last_used_at": key.last_used_at, "rotated_at": key.rotated_at,
        "revoked_at": key.revoked_at, "active": key.active,
    }  # fmt: skip
