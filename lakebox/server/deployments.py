"""HTTP routes of model deployments (issue 13), included by ``create_app`` with one line.

``POST /api/v1/deployments/{name}/predict`` needs an API key with the ``predict`` scope
(admin holds every scope); the body is ``{"entry": {...}}`` or ``{"entries": [...]}`` with
optional ``passed_features`` and ``allow_missing``, as on the feature-vector routes, and
errors have the same JSON shape ``{"error", "message", "details"}`` (a failing model is
``predictor_error`` naming the deployment, never a stack trace). The metadata routes take
``predict`` or ``read:offline``. Routes are a few lines over one api call each.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lakebox.errors import LakeboxError, ValidationError

log = logging.getLogger(__name__)

PREDICT_PATH = "/api/v1/deployments/{name}/predict"
MAX_ENTRIES = 10_000


class PredictRequest(BaseModel):
    """One ``entry`` or a list of ``entries`` (serving-key values)."""

    model_config = ConfigDict(extra="forbid")
    entry: dict[str, Any] | None = Field(None, description="serving-key values of one entity, e.g. {\"pid\": 3}")
    entries: list[dict[str, Any]] | None = Field(None, max_length=MAX_ENTRIES, description="several entries, in order")
    passed_features: dict[str, Any] | list[dict[str, Any]] | None = Field(
        None, description="feature values that override the online store (a list, one per entry, with entries)"
    )
    allow_missing: bool = Field(False, description="predict on nulls where the online store has no complete vector")


class Prediction(BaseModel):
    deployment: str
    prediction: Any = None
    model_version: int | None = None
    status: str | None = None
    predictions: list[Any] | None = None
    model_versions: list[int] | None = None
    statuses: list[str] | None = None


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or an invalid API key"},
    403: {"description": "the key lacks the predict scope"},
    404: {"description": "unknown deployment, or a missing key without allow_missing"},
    422: {"description": "invalid body or entry"},
    500: {"description": "predictor_error: the model failed (the message names the deployment)"},
}


def deployment_router(project: Any, scope: Callable[..., Any]) -> APIRouter:
    """The deployment routes of ``project``; ``scope(*names)`` is the app's API-key check."""
    serving = project.get_model_serving()

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        for deployment in serving.get_deployments():  # the first request should not load the model
            try:
                deployment.warm()
            except LakeboxError as e:  # a broken deployment answers its own requests with the error
                log.warning("deployment %s is not ready: %s", deployment.name, e.message)
        yield
        serving.flush_logs()  # a graceful shutdown (SIGTERM, Ctrl+C) writes every queued prediction

    router = APIRouter(tags=["deployments"], lifespan=lifespan)

    @router.post(
        PREDICT_PATH,
        summary="Predict with a deployment: features looked up online, transformed, predicted, logged",
        response_model=Prediction,
        response_model_exclude_none=True,
        responses=_ERRORS,
        dependencies=[Depends(scope("predict"))],
    )
    async def predict(name: str, request: Request, body: PredictRequest) -> Response:
        if (body.entry is None) == (body.entries is None):
            raise ValidationError("Send either 'entry' (one dict of serving keys) or 'entries' (a list), not both or neither.")
        if body.entry is not None and body.passed_features is not None and not isinstance(body.passed_features, dict):
            raise ValidationError("'passed_features' for one 'entry' must be an object.")
        if body.entries is not None and body.passed_features is not None and not isinstance(body.passed_features, list):
            raise ValidationError("'passed_features' for 'entries' must be a list of objects, one per entry.")
        deployment = serving.get_deployment(name)
        result = deployment.predict(
            body.entry if body.entry is not None else body.entries,
            passed_features=body.passed_features,
            allow_missing=body.allow_missing,
        )
        return _json(result)

    @router.get("/api/v1/deployments", summary="Every deployment", dependencies=[Depends(scope("predict", "read:offline"))])
    def deployments() -> list[dict[str, Any]]:
        return [d.to_dict() for d in serving.get_deployments()]

    @router.get("/api/v1/deployments/{name}", summary="One deployment", dependencies=[Depends(scope("predict", "read:offline"))])
    def deployment(name: str) -> dict[str, Any]:
        return dict(serving.get_deployment(name).to_dict())

    return router


def _json(content: Any) -> Response:
    text = json.dumps(_finite(content), default=str, allow_nan=False)
    return Response(text, media_type="application/json")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
