"""Who is calling: the API key of a request and whether it holds a scope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from lakebox.catalog.audit import AuditLog
from lakebox.catalog.keys import ApiKey, KeyStore
from lakebox.errors import AuthError, LakeboxError

log = logging.getLogger(__name__)


class Forbidden(AuthError):
    code = "forbidden"
    http_status = 403


def token_of(request: Request) -> str | None:
    """The key a request presents: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


class Authorizer:
    """Checks a request's key against the scopes a route accepts (``admin`` holds all)."""

    def __init__(self, keys: KeyStore, require_keys: bool = True, audit: AuditLog | None = None) -> None:
        self.keys = keys
        self.require_keys = require_keys
        self.audit = audit

    def check(self, request: Request, *accepted: str) -> ApiKey | None:
        """The request's key if it holds one of ``accepted``; AuthError (401) or Forbidden (403)
        otherwise, recorded in the audit log (rate-limited)."""
        if not self.require_keys:
            return None
        try:
            key = self.keys.verify(token_of(request))
        except AuthError as e:
            self._record("auth.failed", e.message, request, prefix=e.details.get("key_prefix"), key=e.details.get("key"))
            raise
        if not any(key.allows(s) for s in accepted):
            wanted = " or ".join(repr(s) for s in accepted)
            self._record("auth.forbidden", f"lacks {wanted}", request, key=key.name)
            raise Forbidden(f"The API key {key.name!r} lacks the scope {wanted}.", missing_scope=accepted[0])
        request.state.api_key = key
        return key

    def _record(self, action: str, reason: str, request: Request, prefix: str | None = None, key: str | None = None) -> None:
        if self.audit is None:
            return
        client = request.client.host if request.client else None
        try:
            self.audit.refused(action, reason, client, request.url.path, key_prefix=prefix, key=key)
        except LakeboxError:  # an unwritable catalog must not turn a 401 into a 500
            log.warning("could not record %s in the audit log", action)

    def dependency(self, *accepted: str) -> Callable[[Request], Awaitable[ApiKey | None]]:
        """A FastAPI dependency requiring one of ``accepted``."""

        # async: FastAPI runs sync dependencies in a thread pool (a hop per request); a key
        # lookup is one indexed SQLite read, fine on the event loop.
        async def check(request: Request) -> ApiKey | None:
            return self.check(request, *accepted)

        return check
