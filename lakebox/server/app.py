"""The HTTP API of one box: feature vectors, metadata, health.

Secure defaults (datasette's lesson): every route but ``/health`` needs an API key with the
right scope (403 names the missing one); the ``Host`` header must be in an allow-list
(loopback names by default) so a web page cannot reach a loopback server through DNS
rebinding; request bodies are size-limited and validated; every error is one JSON shape
``{"error", "message", "details"}`` and never a stack trace. Keys are never logged.
Routes are a few lines over one api call each (no logic lives here).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from lakebox.catalog.keys import ApiKey, KeyStore
from lakebox.errors import AuthError, LakeboxError, ValidationError
from lakebox.project import Project

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
VECTOR_PATH = "/api/v1/feature-views/{name}/{version}/vector"
VECTORS_PATH = "/api/v1/feature-views/{name}/{version}/vectors"
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH = 10_000


class VectorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: dict[str, Any]
    passed_features: dict[str, Any] | None = None
    allow_missing: bool = False


class VectorsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[dict[str, Any]] = Field(max_length=MAX_BATCH)
    passed_features: list[dict[str, Any]] | None = None
    allow_missing: bool = False


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Host allow-list and body size limit, as plain ASGI (Starlette's BaseHTTPMiddleware
    costs a task and a stream copy per request, which the hot routes cannot afford).

    DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 still sends its
    own name in ``Host``, so only the names the server is meant to be reached by pass.
    """

    def __init__(self, app: Any, allowed_hosts: Sequence[str], max_body_bytes: int) -> None:
        self.app = app
        self.hosts = {h.lower() for h in allowed_hosts}
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        name = host if host.endswith("]") else host.rsplit(":", 1)[0]
        if name not in self.hosts:
            response = error_response(
                400, "invalid_host", f"Host {host!r} is not allowed; start the server with --allowed-host to add it."
            )
            await response(scope, receive, send)
            return
        length = headers.get(b"content-length")
        too_large = error_response(
            413, "payload_too_large", f"Request bodies are limited to {self.max_body_bytes} bytes."
        )
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await too_large(scope, receive, send)
            return
        received = 0
        limit = self.max_body_bytes

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


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "details": details or {}}, status_code=status)


class Forbidden(AuthError):
    code = "forbidden"
    http_status = 403


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
        description="Feature vectors and metadata of one lakebox box.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    keys = KeyStore(project.catalog)
    store = project.get_feature_store()
    views: dict[tuple[str, int | None], Any] = {}

    app.add_middleware(GuardMiddleware, allowed_hosts=allowed_hosts, max_body_bytes=max_body_bytes)

    @app.exception_handler(LakeboxError)
    async def lakebox_error(_: Request, error: LakeboxError) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.http_status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [{"location": list(e.get("loc", ())), "message": e.get("msg", "")} for e in error.errors()]
        return error_response(422, "validation_error", "The request body is invalid.", {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, "http_error", str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("unexpected server error: %s", type(error).__name__, exc_info=error)
        return error_response(500, "internal_error", "The server failed to handle the request; see its log.")

    def scope(*accepted: str) -> Callable[[Request], Awaitable[ApiKey | None]]:
        """Require a key holding one of ``accepted`` scopes (admin holds all)."""

        # async: FastAPI runs sync dependencies in a thread pool (a hop per request); a key
        # lookup is one indexed SQLite read, fine on the event loop.
        async def check(request: Request) -> ApiKey | None:
            if not require_keys:
                return None
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key")
            key = keys.verify(token)
            if not any(key.allows(s) for s in accepted):
                wanted = " or ".join(repr(s) for s in accepted)
                raise Forbidden(f"The API key {key.name!r} lacks the scope {wanted}.", missing_scope=accepted[0])
            return key

        return check

    def view(name: str, version: int | None) -> Any:
        cached = views.get((name, version))
        if cached is None:
            cached = store.get_feature_view(name, version)
            cached.init_serving()
            views[(name, version)] = cached
        return cached

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/feature-groups", tags=["metadata"], dependencies=[Depends(scope("read:offline"))])
    def feature_groups() -> list[dict[str, Any]]:
        return [_group_info(g) for g in store.get_feature_groups()]

    @app.get("/api/v1/feature-groups/{name}", tags=["metadata"], dependencies=[Depends(scope("read:offline"))])
    def feature_group(name: str, version: int | None = None) -> dict[str, Any]:
        return _group_info(store.get_feature_group(name, version))

    # View metadata is what an online client needs to ask for vectors: either read scope will do.
    @app.get("/api/v1/feature-views", tags=["metadata"], dependencies=[Depends(scope("read:online", "read:offline"))])
    def feature_views() -> list[dict[str, Any]]:
        return [_view_info(v) for v in store.get_feature_views()]

    @app.get(
        "/api/v1/feature-views/{name}", tags=["metadata"], dependencies=[Depends(scope("read:online", "read:offline"))]
    )
    def feature_view(name: str, version: int | None = None) -> dict[str, Any]:
        return _view_info(store.get_feature_view(name, version))

    # The vector routes are the hot path. They are plain Starlette routes placed ahead of the
    # FastAPI router: no dependency injection, no pydantic, no thread-pool hop (an LMDB lookup
    # takes microseconds), small JSON bodies parsed and checked by hand. FastAPI's machinery
    # costs ~60 us of CPU per request on this hardware, as much as the lookup budget itself.
    # They are added to the OpenAPI document by hand below.
    async def authorize(request: Request, *accepted: str) -> None:
        await scope(*accepted)(request)

    async def feature_vector(request: Request) -> Response:
        await authorize(request, "read:online")
        body = _parse(await request.body(), VectorRequest)
        fv = view(request.path_params["name"], _version(request))
        vectors, statuses = fv.get_feature_vectors(
            [body["entry"]],
            passed_features=[body["passed_features"]] if body.get("passed_features") else None,
            allow_missing=bool(body.get("allow_missing", False)),
            return_status=True,
        )
        return _json({"columns": fv.serving_columns(), "vector": vectors[0], "status": statuses[0]})

    async def feature_vectors(request: Request) -> Response:
        await authorize(request, "read:online")
        body = _parse(await request.body(), VectorsRequest)
        fv = view(request.path_params["name"], _version(request))
        vectors, statuses = fv.get_feature_vectors(
            body["entries"],
            passed_features=body.get("passed_features"),
            allow_missing=bool(body.get("allow_missing", False)),
            return_status=True,
        )
        return _json({"columns": fv.serving_columns(), "vectors": vectors, "statuses": statuses})

    lean = {
        VECTOR_PATH: (feature_vector, VectorRequest, "One feature vector from the online store"),
        VECTORS_PATH: (feature_vectors, VectorsRequest, "Feature vectors, one per entry, in order"),
    }
    for index, (path, (endpoint, _, _)) in enumerate(lean.items()):
        app.router.routes.insert(index, Route(path, endpoint, methods=["POST"]))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for path, (_, model, summary) in lean.items():
                schema.setdefault("paths", {})[path] = {
                    "post": {
                        "tags": ["online"],
                        "summary": summary,
                        "parameters": [
                            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                            {"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}},
                        ],
                        **_body_schema(model),
                        "responses": {
                            "200": {"description": "columns, the vector(s) and a status per entry"},
                            "401": {"description": "no or an invalid API key"},
                            "403": {"description": "the key lacks read:online"},
                            "404": {"description": "unknown view, or a missing key without allow_missing"},
                            "422": {"description": "invalid body"},
                        },
                    }
                }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    return app


def _version(request: Request) -> int:
    text = request.path_params["version"]
    if not text.isdigit() or int(text) < 1:
        raise ValidationError(f"The view version in the path must be a positive integer, got {text!r}.")
    return int(text)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _parse(raw: bytes, model: type[BaseModel]) -> dict[str, Any]:
    """Validate a small JSON body against ``model``'s fields (types checked where cheap)."""
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ValidationError(f"The request body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    fields = model.model_fields
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ValidationError(f"Unknown field(s) {unknown}; expected {sorted(fields)}.")
    missing = sorted(n for n, f in fields.items() if f.is_required() and n not in body)
    if missing:
        raise ValidationError(f"Missing field(s) {missing}.")
    if "entries" in body:
        if not isinstance(body["entries"], list) or not all(isinstance(e, dict) for e in body["entries"]):
            raise ValidationError("'entries' must be a list of objects.")
        if len(body["entries"]) > MAX_BATCH:
            raise ValidationError(f"At most {MAX_BATCH} entries per request.")
    if "entry" in body and not isinstance(body["entry"], dict):
        raise ValidationError("'entry' must be an object of primary key values.")
    if body.get("passed_features") is not None:
        passed = body["passed_features"]
        ok = isinstance(passed, list) and all(isinstance(p, dict) for p in passed) if "entries" in body else isinstance(passed, dict)
        if not ok:
            raise ValidationError("'passed_features' must be an object (a list of objects for 'entries').")
    if "allow_missing" in body and not isinstance(body["allow_missing"], bool):
        raise ValidationError("'allow_missing' must be true or false.")
    return body


def _json(content: Any) -> Response:
    try:
        text = json.dumps(content, default=_json_default, allow_nan=False)
    except ValueError:  # NaN or infinity among the values: JSON has no such numbers, send null
        text = json.dumps(_finite(content), default=_json_default, allow_nan=False)
    return Response(text, media_type="application/json")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _group_info(group: Any) -> dict[str, Any]:
    return {
        "name": group.name,
        "version": group.version,
        "description": group.description,
        "primary_key": group.primary_key,
        "event_time": group.event_time,
        "online_enabled": group.online_enabled,
        "features": [f.to_dict() for f in group.features],
    }


def _view_info(view: Any) -> dict[str, Any]:
    return {
        "name": view.name,
        "version": view.version,
        "description": view.description,
        "labels": view.labels,
        "features": view.features,
        "primary_key": view.primary_key,
        "training_datasets": [d["version"] for d in view.get_training_datasets()],
    }


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def serve(
    project: Project,
    host: str = "127.0.0.1",
    port: int = 8765,
    allowed_hosts: Sequence[str] | None = None,
    no_auth: bool = False,
    log_level: str = "warning",
) -> None:
    """Run the server in this process (blocks). Refuses unsafe configurations."""
    import uvicorn

    keys = KeyStore(project.catalog)
    if not is_loopback(host) and not keys.any_active():
        raise AuthError(
            f"Refusing to bind {host}: no API keys exist, so anyone who can reach this address could read the "
            "box. Create one with `lakebox apikey create NAME`, or bind 127.0.0.1."
        )
    if no_auth and not is_loopback(host):
        raise AuthError("--no-auth is for loopback-only development; it cannot be used with a non-loopback host.")
    hosts = list(allowed_hosts) if allowed_hosts else [*LOOPBACK_HOSTS, *([] if is_loopback(host) else [host])]
    app = create_app(project, allowed_hosts=hosts, require_keys=not no_auth)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, loop="uvloop", http="httptools")
