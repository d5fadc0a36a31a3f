"""The server's first gate, as plain ASGI (Starlette's BaseHTTPMiddleware costs a task and a
stream copy per request, which the hot routes cannot afford): the ``Host`` allow-list and the
request body size limit.

DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 still sends its own
name in ``Host``, so only the names the server is meant to be reached by pass. A request with
more than one ``Host`` header is refused outright (which one a proxy or a framework honours
differs, so an allow-list check of the first proves nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    """The one error shape: ``{"error", "message", "details"}``."""
    return JSONResponse({"error": code, "message": message, "details": details or {}}, status_code=status)


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Host allow-list (one Host header, a listed name) and the body size limit."""

    def __init__(
        self,
        app: Any,
        allowed_hosts: Sequence[str],
        max_body_bytes: int,
        upload_paths: Sequence[str] = (),
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.hosts = {h.lower() for h in allowed_hosts}
        self.max_body_bytes = max_body_bytes
        self.upload_paths = tuple(upload_paths)  # routes taking frames: up to max_upload_bytes
        self.max_upload_bytes = max(max_upload_bytes, max_body_bytes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if len(hosts) != 1:
            message = "A request needs exactly one Host header." if hosts else "The request has no Host header."
            await error_response(400, "invalid_host", message)(scope, receive, send)
            return
        host = hosts[0].decode("latin-1").lower()
        name = host if host.endswith("]") else host.rsplit(":", 1)[0]
        if name not in self.hosts and "*" not in self.hosts:
            response = error_response(
                400, "invalid_host", f"Host {host!r} is not allowed; start the server with --allowed-host to add it."
            )
            await response(scope, receive, send)
            return
        path = scope.get("path", "")
        # "/parts/" matches inside a path, "/insert" and "/features" only at its end
        upload = scope.get("method") in ("POST", "PUT") and any(
            (p in path) if p.endswith("/") else path.endswith(p) for p in self.upload_paths
        )
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        lengths = [value for name, value in scope["headers"] if name == b"content-length"]
        hint = " Send bigger frames in parts: POST /api/v1/uploads (see /docs)." if upload else ""
        too_large = error_response(413, "payload_too_large", f"Request bodies are limited to {limit} bytes here.{hint}")
        if lengths and (len(lengths) > 1 or not lengths[0].isdigit() or int(lengths[0]) > limit):
            await too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await too_large(scope, receive, send)
