"""Who is calling: the API key of a request and whether it holds a scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from lakebox.catalog.keys import ApiKey, KeyStore
from lakebox.errors import AuthError


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

    def __init__(self, keys: KeyStore, require_keys: bool = True) -> None:
        self.keys = keys
        self.require_keys = require_keys

    def check(self, request: Request, *accepted: str) -> ApiKey | None:
        if not self.require_keys:
            return None
        key = self.keys.verify(token_of(request))
        if not any(key.allows(s) for s in accepted):
            wanted = " or ".join(repr(s) for s in accepted)
            raise Forbidden(f"The API key {key.name!r} lacks the scope {wanted}.", missing_scope=accepted[0])
        return key

    def dependency(self, *accepted: str) -> Callable[[Request], Awaitable[ApiKey | None]]:
        """A FastAPI dependency requiring one of ``accepted``."""

        # async: FastAPI runs sync dependencies in a thread pool (a hop per request); a key
        # lookup is one indexed SQLite read, fine on the event loop.
        async def check(request: Request) -> ApiKey | None:
            return self.check(request, *accepted)

        return check
