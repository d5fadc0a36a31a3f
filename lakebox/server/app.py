"""The HTTP API of one box: feature vectors, metadata, health.

Secure defaults (datasette's lesson): every route but ``/health`` (and the API's own
documentation) needs an API key with the right scope (403 names the missing one); the
``Host`` header must be a single one from an allow-list (loopback names by default) so a web
page cannot reach a loopback server through DNS rebinding; request bodies are size- and
depth-limited and validated; slow or idle connections are closed (``protocol.Limits``);
every error is one JSON shape ``{"error", "message", "details"}`` and never a stack trace.
Keys are never logged. Routes are a few lines over one api call each (no logic lives here).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from lakebox.catalog.audit import AuditLog
from lakebox.catalog.keys import KeyStore
from lakebox.errors import AuthError, LakeboxError, NotFoundError
from lakebox.project import Project
from lakebox.server.admin import add_admin_routes
from lakebox.server.auth import Authorizer, Forbidden
from lakebox.server.data import MAX_UPLOAD_BYTES, UPLOAD_PATHS, add_data_routes
from lakebox.server.deployments import deployment_router
from lakebox.server.docs import install_docs
from lakebox.server.guard import GuardMiddleware, error_response
from lakebox.server.protocol import Limits, raise_fd_limit, uvicorn_config
from lakebox.server.routes import VECTOR_PATH, VECTORS_PATH, add_routes
from lakebox.server.schemas import Health
from lakebox.server.tls import check_pair

log = logging.getLogger(__name__)

__all__ = ["LOOPBACK_HOSTS", "MAX_BODY_BYTES", "VECTORS_PATH", "VECTOR_PATH", "Forbidden", "create_app", "serve"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_BODY_BYTES = 1024 * 1024
PLAINTEXT_WARNING = (
    "Serving %s without TLS: API keys and data cross the network in clear text, readable and "
    "replayable by anyone on the path. Use --tls-cert/--tls-key or --tls-self-signed."
)


def create_app(
    project: Project,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    require_keys: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The ASGI app serving ``project``."""
    app = FastAPI(
        title="lakebox",
        version="1",
        description="Feature vectors and metadata of one lakebox box. Send an API key as "
        "'Authorization: Bearer lbk_...' (create one with `lakebox apikey create NAME`).",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(
        GuardMiddleware, allowed_hosts=allowed_hosts, max_body_bytes=max_body_bytes, upload_paths=UPLOAD_PATHS,
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )  # fmt: skip
    _add_error_handlers(app)
    auth = Authorizer(KeyStore(project.catalog), require_keys=require_keys, audit=AuditLog(project.catalog))
    lean = add_routes(app, project, auth)
    add_admin_routes(app, project, auth)
    add_data_routes(app, project, auth)
    app.include_router(deployment_router(project, auth.dependency))  # model deployments (issue 13)
    install_docs(app, lean)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LakeboxError)
    async def lakebox_error(_: Request, error: LakeboxError) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.http_status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [{"location": list(e.get("loc", ())), "message": e.get("msg", "")} for e in error.errors()]
        return error_response(422, "validation_error", "The request is invalid.", {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, "http_error", str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        if isinstance(error, ClientDisconnect):  # the client went away (or timed out): nobody to answer
            log.info("client disconnected before its request body arrived")
        else:
            log.error("unexpected server error: %s", type(error).__name__, exc_info=error)
        return error_response(500, "internal_error", "The server failed to handle the request; see its log.")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def serve(
    project: Project | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    allowed_hosts: Sequence[str] | None = None,
    no_auth: bool = False,
    log_level: str = "warning",
    limits: Limits | None = None,
    tls: tuple[str | Path, str | Path] | None = None,
    home: str | Path | None = None,
    default_project: str | None = None,
    run_jobs: bool = False,
) -> None:
    """Run the server in this process (blocks). Refuses unsafe configurations.

    ``home=DIR`` (with ``project=None``) serves every box under DIR as a project under
    ``/api/v1/projects/{project}/...`` (see ``server/projects.py``); ``default_project``
    also serves one of them on the single-box routes ``/api/v1/...``. ``tls=(cert, key)``
    serves HTTPS with that PEM certificate and key (see ``lakebox.server.tls.self_signed``
    for a box's own). Without TLS, a non-loopback bind sends keys and data in clear text: a
    warning says so. ``run_jobs`` (with ``home``) runs a job scheduler for every project
    while the server runs: each project's schedules and commit triggers fire as under a
    single-box ``lakebox serve``.
    """
    import uvicorn

    opened: list[Project] = []
    if home is not None:
        app, opened = create_home_app(Path(home), allowed_hosts=["*"], require_keys=not no_auth)
        if default_project is not None:
            if default_project not in app.apps:
                raise NotFoundError(f"No project {default_project!r} in {str(home)!r}; see `lakebox projects list`.")
            app.default_project = default_project
        catalogs = [p.catalog for p in opened]
    else:
        assert project is not None, "serve() needs a project or home="
        catalogs = [project.catalog]
    if not is_loopback(host) and not any(KeyStore(c).any_active() for c in catalogs):
        raise AuthError(
            f"Refusing to bind {host}: no API keys exist, so anyone who can reach this address could read the "
            "box. Create one with `lakebox apikey create NAME`, or bind 127.0.0.1."
        )
    if no_auth and not is_loopback(host):
        raise AuthError("--no-auth is for loopback-only development; it cannot be used with a non-loopback host.")
    if tls is not None:
        check_pair(Path(tls[0]), Path(tls[1]))
    elif not is_loopback(host):
        log.warning(PLAINTEXT_WARNING, host)
    limits = limits or Limits()
    # Each connection is a file descriptor; keep room for the box's own files under the cap.
    available = raise_fd_limit(limits.max_connections + 256)
    if available - 256 < limits.max_connections:
        limits = Limits(**{**limits.__dict__, "max_connections": max(16, available - 256)})
    hosts = list(allowed_hosts) if allowed_hosts else [*LOOPBACK_HOSTS, *([] if is_loopback(host) else [host])]
    if home is not None:
        app = GuardMiddleware(app, allowed_hosts=hosts, max_body_bytes=MAX_BODY_BYTES, upload_paths=UPLOAD_PATHS,
                              max_upload_bytes=MAX_UPLOAD_BYTES)  # fmt: skip
    else:
        assert project is not None
        app = create_app(project, allowed_hosts=hosts, require_keys=not no_auth)
    options = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls is not None else {}
    config = uvicorn_config(app, host, port, limits, log_level=log_level, loop="uvloop", **options)
    schedulers = []
    if run_jobs and home is not None:
        from lakebox.jobs.scheduler import start_in_background

        schedulers = [start_in_background(each) for each in opened]
    try:
        uvicorn.Server(config).run()
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        for each in opened:
            each.close()


def create_home_app(home: Path, allowed_hosts: Sequence[str] = LOOPBACK_HOSTS, require_keys: bool = True) -> tuple[Any, list[Project]]:
    """The ASGI app serving every box under ``home`` as a project, and the opened projects."""
    import lakebox
    from lakebox.server.projects import build, prefixed_openapi

    root = FastAPI(title="lakebox", version="1", docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                   description="Projects of a lakebox home: each project's routes are under /api/v1/projects/{project}; "
                   "a key works in the project that issued it.")  # fmt: skip
    _add_error_handlers(root)

    @root.get("/health", tags=["health"], response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def make(project: Project) -> FastAPI:
        # the outer GuardMiddleware checks Host and sizes; the project's own accepts any Host
        return create_app(project, allowed_hosts=["*"], require_keys=require_keys)

    dispatcher, projects = build(home, make, lakebox.connect, root, require_keys)
    install_docs(root, [])
    if dispatcher.apps:
        template = next(iter(dispatcher.apps.values()))
        root.openapi = lambda: prefixed_openapi(template.openapi(), root)  # type: ignore[method-assign]
    return dispatcher, projects
