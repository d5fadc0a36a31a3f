"""Routes over one project: metadata (FastAPI) and the feature-vector hot path (lean)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lakebox import jsonpolicy
from lakebox.errors import ValidationError
from lakebox.project import Project
from lakebox.server.auth import Authorizer
from lakebox.server.docs import LeanRoute
from lakebox.server.inputs import VersionQuery, parse_json, path_version
from lakebox.server.schemas import (
    MAX_BATCH,
    GroupInfo,
    Health,
    VectorRequest,
    VectorResponse,
    VectorsRequest,
    VectorsResponse,
    ViewInfo,
    error_responses,
)

VECTOR_PATH = "/api/v1/feature-views/{name}/{version}/vector"
VECTORS_PATH = "/api/v1/feature-views/{name}/{version}/vectors"
READ_ERRORS = error_responses(400, 401, 403, 404, 422)


def add_routes(app: FastAPI, project: Project, auth: Authorizer) -> list[LeanRoute]:
    """Add the metadata and vector routes of ``project``; returns the lean routes to document."""
    store = project.get_feature_store()
    views: dict[tuple[str, int | None], Any] = {}
    offline = [Depends(auth.dependency("read:offline"))]
    # View metadata is what an online client needs to ask for vectors: either read scope will do.
    either = [Depends(auth.dependency("read:online", "read:offline"))]

    @app.get("/health", tags=["health"], response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/feature-groups", tags=["metadata"], dependencies=offline, response_model=list[GroupInfo],
             responses=READ_ERRORS)
    def feature_groups() -> list[dict[str, Any]]:
        return [group_info(g) for g in store.get_feature_groups()]

    @app.get("/api/v1/feature-groups/{name}", tags=["metadata"], dependencies=offline, response_model=GroupInfo,
             responses=READ_ERRORS)
    def feature_group(name: str, version: VersionQuery = None) -> dict[str, Any]:
        return group_info(store.get_feature_group(name, version))

    @app.get("/api/v1/feature-views", tags=["metadata"], dependencies=either, response_model=list[ViewInfo],
             responses=READ_ERRORS)
    def feature_views() -> list[dict[str, Any]]:
        return [view_info(v) for v in store.get_feature_views()]

    @app.get("/api/v1/feature-views/{name}", tags=["metadata"], dependencies=either, response_model=ViewInfo,
             responses=READ_ERRORS)
    def feature_view(name: str, version: VersionQuery = None) -> dict[str, Any]:
        return view_info(store.get_feature_view(name, version))

    def view(name: str, version: int) -> Any:
        cached = views.get((name, version))
        if cached is None:
            cached = store.get_feature_view(name, version)
            cached.init_serving()
            views[(name, version)] = cached
        return cached

    # The vector routes are the hot path. They are plain Starlette routes placed ahead of the
    # FastAPI router: no dependency injection, no pydantic, no thread-pool hop (an LMDB lookup
    # takes microseconds), small JSON bodies parsed and checked by hand. FastAPI's machinery
    # costs ~60 us of CPU per request on this hardware, as much as the lookup budget itself.
    async def feature_vector(request: Request) -> Response:
        auth.check(request, "read:online")
        body = parse_body(await request.body(), VectorRequest)
        fv = view(request.path_params["name"], path_version(request.path_params["version"]))
        extra = {"request_parameters": [body["request_parameters"]]} if body.get("request_parameters") is not None else {}
        vectors, statuses = fv.get_feature_vectors(
            [body["entry"]],
            passed_features=[body["passed_features"]] if body.get("passed_features") else None,
            allow_missing=bool(body.get("allow_missing", False)),
            return_status=True,
            **extra,
        )
        return json_response({"columns": fv.serving_columns(), "vector": vectors[0], "status": statuses[0],
                              "timestamps": timestamp_columns(vectors)})  # fmt: skip

    async def feature_vectors(request: Request) -> Response:
        auth.check(request, "read:online")
        body = parse_body(await request.body(), VectorsRequest)
        fv = view(request.path_params["name"], path_version(request.path_params["version"]))
        extra = {"request_parameters": body["request_parameters"]} if body.get("request_parameters") is not None else {}
        vectors, statuses = fv.get_feature_vectors(
            body["entries"],
            passed_features=body.get("passed_features"),
            allow_missing=bool(body.get("allow_missing", False)),
            return_status=True,
            **extra,
        )
        return json_response({"columns": fv.serving_columns(), "vectors": vectors, "statuses": statuses,
                              "timestamps": timestamp_columns(vectors)})  # fmt: skip

    lean = [
        LeanRoute(VECTOR_PATH, "POST", "One feature vector from the online store", "online",
                  (("name", "string"), ("version", "integer")), VectorRequest, VectorResponse, (400, 401, 403, 404, 413, 422)),
        LeanRoute(VECTORS_PATH, "POST", "Feature vectors, one per entry, in order", "online",
                  (("name", "string"), ("version", "integer")), VectorsRequest, VectorsResponse, (400, 401, 403, 404, 413, 422)),
    ]
    for index, (route, endpoint) in enumerate(zip(lean, (feature_vector, feature_vectors), strict=True)):
        app.router.routes.insert(index, Route(route.path, endpoint, methods=[route.method]))
    return lean


def parse_body(raw: bytes, model: Any) -> dict[str, Any]:
    """Validate a small JSON body against ``model``'s fields (types checked where cheap)."""
    body = parse_json(raw)
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
    for entry in body["entries"] if "entries" in body else [body.get("entry", {})]:
        for name, value in entry.items():
            if isinstance(value, (dict, list)):
                raise ValidationError(
                    f"The key {name!r} has a {type(value).__name__} value; key values are strings, numbers or booleans."
                )
    if body.get("passed_features") is not None:
        passed = body["passed_features"]
        ok = isinstance(passed, list) and all(isinstance(p, dict) for p in passed) if "entries" in body else isinstance(passed, dict)
        if not ok:
            raise ValidationError("'passed_features' must be an object (a list of objects for 'entries').")
    if body.get("request_parameters") is not None:
        given = body["request_parameters"]
        ok = isinstance(given, list) and all(isinstance(p, dict) for p in given) if "entries" in body else isinstance(given, dict)
        if not ok:
            raise ValidationError("'request_parameters' must be an object (a list of objects for 'entries').")
    if "allow_missing" in body and not isinstance(body["allow_missing"], bool):
        raise ValidationError("'allow_missing' must be true or false.")
    return body


def timestamp_columns(vectors: list[list[Any]]) -> list[int]:
    """Positions of the columns holding timestamps (sent as ISO-8601 text; the client turns
    them back into datetimes so remote vectors equal local ones)."""
    if not vectors:
        return []
    found = {i for vector in vectors for i, value in enumerate(vector) if isinstance(value, datetime)}
    return sorted(found)


def json_response(content: Any) -> Response:
    """JSON by the one policy (``lakebox.jsonpolicy``: NaN -> null, times ISO-8601 UTC ``Z``,
    bytes base64); the plain encoder first, as most vectors need nothing more."""
    try:
        text = json.dumps(content, default=jsonpolicy.default, allow_nan=False)
    except ValueError:  # NaN or infinity among the values: JSON has no such numbers, send null
        text = jsonpolicy.dumps(content)
    return Response(text, media_type="application/json")


def group_info(group: Any) -> dict[str, Any]:
    return {
        "name": group.name,
        "version": group.version,
        "description": group.description,
        "primary_key": group.primary_key,
        "event_time": group.event_time,
        "online_enabled": group.online_enabled,
        "features": [f.to_dict() for f in group.features],
    }


def view_info(view: Any) -> dict[str, Any]:
    return {
        "name": view.name,
        "version": view.version,
        "description": view.description,
        "labels": view.labels,
        "features": view.features,
        "primary_key": view.primary_key,
        "training_datasets": [d["version"] for d in view.get_training_datasets()],
    }
