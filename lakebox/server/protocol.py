"""Connection limits that uvicorn does not enforce: slow and idle clients cannot pin the server.

uvicorn (0.54, httptools protocol) arms its keep-alive timer only *after* a response, so a
connection that never sends a byte, or trickles its request head one byte at a time, is kept
forever; nothing caps how many connections are open; and httptools has no limit on the size
of a request head. ``HardenedProtocol`` adds, per connection:

* a **head deadline**: the request line and headers must arrive within ``head_timeout``
  seconds of the connection opening (or of the first byte of a later request); otherwise 408
  and close. Idle new connections are covered by the same deadline.
* a **body deadline**: the body must arrive within ``body_timeout`` seconds of the head.
* a **head size limit**: more than ``max_head_bytes`` before the headers end is 431.
* a **connection cap**: at ``max_connections`` open connections a new one first evicts the
  oldest connection that is idle (no request in flight); if none is idle it gets 503.

uvicorn's own ``timeout_keep_alive`` closes idle kept-alive connections between requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class Limits:
    """Timeouts (seconds) and sizes that bound what one client can hold."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: int = 5
    max_connections: int = 1000
    max_head_bytes: int = 64 * 1024


def _reply(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": reason, "message": message, "details": {}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason.replace('_', ' ').title()}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    return head + body


TIMEOUT = _reply(408, "request_timeout", "The request did not arrive in time; the connection is closed.")
HEAD_TOO_LARGE = _reply(431, "headers_too_large", "The request line and headers are too large.")
BUSY = _reply(503, "server_busy", "The server has too many open connections; retry shortly.")


def hardened_protocol(limits: Limits) -> type[HttpToolsProtocol]:
    """An httptools protocol class enforcing ``limits`` (uvicorn's ``http=`` accepts a class)."""

    class HardenedProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._head_bytes = self._head_size = 0
            self._head_too_large = False
            self._in_head = True
            self._deadline: asyncio.TimerHandle | None = None
            self._opened = time.monotonic()
            if len(self.connections) >= limits.max_connections and not self._evict_idle():
                super().connection_made(transport)
                transport.write(BUSY)
                transport.close()
                return
            super().connection_made(transport)
            self._arm(limits.head_timeout, TIMEOUT)

        def _evict_idle(self) -> bool:
            idle = [c for c in self.connections if isinstance(c, HardenedProtocol) and c._idle()]
            if not idle:
                return False
            oldest = min(idle, key=lambda c: c._opened)
            oldest.transport.close()
            self.connections.discard(oldest)
            return True

        def _idle(self) -> bool:
            busy = self.cycle is not None and not self.cycle.response_complete
            return not busy and self._head_bytes == 0 and not self.transport.is_closing()

        def _arm(self, seconds: float, reply: bytes | None) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire, reply)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self, reply: bytes | None) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if reply is not None:
                self.transport.write(reply)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            # Still inside the head after parsing this chunk (a chunk may carry the body too):
            if self._in_head and self._head_bytes > limits.max_head_bytes and not self.transport.is_closing():
                self._disarm()
                self.transport.write(HEAD_TOO_LARGE)
                self.transport.close()

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value))
            super().on_header(name, value)

        def _count_head(self, size: int) -> None:
            self._head_size += size
            if self._head_size > limits.max_head_bytes:
                self._head_too_large = True
                raise ValueError("request head too large")  # httptools stops parsing: send_400_response

        def send_400_response(self, msg: str) -> None:
            if not self._head_too_large:
                super().send_400_response(msg)
                return
            self._disarm()
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()

        def on_message_begin(self) -> None:
            self._head_size = 0
            super().on_message_begin()
            self._in_head = True
            if self._deadline is None:
                self._arm(limits.head_timeout, TIMEOUT)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._arm(limits.body_timeout, None)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HardenedProtocol


def uvicorn_config(app: Any, host: str, port: int, limits: Limits, log_level: str = "warning", **options: Any) -> Any:
    """The uvicorn configuration every lakebox server uses (the CLI's, the demo's, the tests')."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http=hardened_protocol(limits),
        timeout_keep_alive=limits.keep_alive,
        # uvicorn answers 503 once connections or tasks reach this; the cap above keeps
        # connections at max_connections, so this only bounds requests in flight.
        limit_concurrency=limits.max_connections + 16,
        **options,
    )


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file soft limit towards ``wanted`` (within the hard limit);
    returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)
