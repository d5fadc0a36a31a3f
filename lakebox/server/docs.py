"""The API's own documentation, served offline: the OpenAPI document (with a bearer security
scheme and a schema for every response) and Swagger UI / ReDoc from the files of the
``fastapi-offline`` package, so ``/docs`` works on a machine with no network.

``/openapi.json``, ``/docs`` and ``/redoc`` need no key: they describe the API, which is the
same for every box (route templates, never a group, view or project name, nor any data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from lakebox.server.schemas import ERRORS, ErrorBody

PUBLIC_PATHS = ("/health",)
STATIC_URL = "/docs/static"
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"api_key": []}]
SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `lakebox apikey create`: 'Authorization: Bearer lbk_...'.",
    },
    "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key, in X-API-Key."},
}


@dataclass(frozen=True)
class LeanRoute:
    """A hand-written (non-FastAPI) route, described in the OpenAPI document by hand."""

    path: str
    method: str
    summary: str
    tag: str
    params: tuple[tuple[str, str], ...]  # (name, "string" | "integer") path parameters
    request: type[BaseModel] | None
    response: type[BaseModel] | None
    errors: tuple[int, ...]
    media_type: str = "application/json"


def _static_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:  # docs are a convenience: the API works without them
        return None
    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI, lean: Iterable[LeanRoute]) -> None:
    """Add ``/docs``, ``/redoc`` (offline) and a complete ``app.openapi``."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    lean = list(lean)
    static = _static_dir()
    if static is not None:
        app.mount(STATIC_URL, StaticFiles(directory=static), name="docs-static")

        @app.get("/docs", include_in_schema=False)
        async def swagger() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="lakebox API",
                swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
                swagger_favicon_url=f"{STATIC_URL}/favicon.png",
                swagger_ui_parameters={"persistAuthorization": False},
            )

        @app.get("/redoc", include_in_schema=False)
        async def redoc() -> HTMLResponse:
            return get_redoc_html(
                openapi_url="/openapi.json",
                title="lakebox API",
                redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{STATIC_URL}/favicon.png",
                with_google_fonts=False,
            )
    else:

        @app.get("/docs", include_in_schema=False)
        async def route_list() -> HTMLResponse:
            return HTMLResponse(_route_list(app.openapi()))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, lean)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI, lean: list[LeanRoute]) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    models = components.setdefault("schemas", {})
    models.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for route in lean:
        operation: dict[str, Any] = {
            "tags": [route.tag],
            "summary": route.summary,
            "operationId": route.summary.lower().replace(" ", "_").replace(",", ""),
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": _param_schema(kind)} for name, kind in route.params
            ],
            "responses": {
                "200": _content(route.response, route.media_type, models),
                **{str(s): {"description": ERRORS[s], **_content(ErrorBody, "application/json", models)} for s in route.errors},
            },
        }
        if route.request is not None:
            operation["requestBody"] = {"required": True, **_content(route.request, "application/json", models)}
        schema.setdefault("paths", {}).setdefault(route.path, {})[route.method.lower()] = operation
    components["securitySchemes"] = SCHEMES
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            operation["security"] = [] if path in PUBLIC_PATHS else SECURITY
            answers = operation.setdefault("responses", {})
            # What the guards and the protocol may answer on any route (bad Host, sizes, busy):
            common = [400, 413, 422, 431, 503, *([] if path in PUBLIC_PATHS else [401, 403]), *([404] if "{" in path else [])]
            for status in common:
                answers.setdefault(str(status), {"description": ERRORS[status]})
            for status, answer in answers.items():
                if status[:1] in ("4", "5"):  # every error has the one shape, whichever router made it
                    answer["content"] = error
    return schema


def _param_schema(kind: str) -> dict[str, Any]:
    if kind == "integer":
        from lakebox.server.inputs import MAX_VERSION

        return {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}
    return {"type": "string"}


def _content(model: type[BaseModel] | None, media_type: str, models: dict[str, Any]) -> dict[str, Any]:
    if model is None:
        return {"description": "a stream", "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}
    body = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in body.pop("$defs", {}).items():
        models.setdefault(name, definition)
    models.setdefault(model.__name__, body)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": model.__doc__ or model.__name__, "content": {media_type: {"schema": ref}}}


def _route_list(schema: dict[str, Any]) -> str:
    """A plain HTML list of the routes (when Swagger UI's files are not installed)."""
    import html

    rows = [
        f"<li><code>{html.escape(method.upper())} {html.escape(path)}</code> {html.escape(op.get('summary', ''))}</li>"
        for path, operations in schema.get("paths", {}).items()
        for method, op in operations.items()
    ]
    return (
        "<!doctype html><title>lakebox API</title><h1>lakebox API</h1>"
        "<p>The OpenAPI document is at <a href='/openapi.json'>/openapi.json</a>.</p><ul>" + "".join(rows) + "</ul>"
    )
