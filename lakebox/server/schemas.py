"""Request and response bodies of the HTTP API, as pydantic models: they give the OpenAPI
document its schemas (and schemathesis something to check every response against)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 10_000


class ErrorBody(BaseModel):
    """The one error shape of every 4xx/5xx answer."""

    error: str = Field(description="a machine-readable code, e.g. not_found, forbidden")
    message: str = Field(description="what was wrong and how to fix it")
    details: dict[str, Any]


class Health(BaseModel):
    status: str


class FeatureInfo(BaseModel):
    name: str
    type: str
    description: str | None = None
    primary: bool
    event_time: bool


class GroupInfo(BaseModel):
    name: str
    version: int
    description: str | None = None
    primary_key: list[str]
    event_time: str | None = None
    online_enabled: bool
    features: list[FeatureInfo]


class ViewInfo(BaseModel):
    name: str
    version: int
    description: str | None = None
    labels: list[str]
    features: list[Any]
    primary_key: list[str]
    training_datasets: list[int]


class VectorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: dict[str, Any]
    passed_features: dict[str, Any] | None = None
    allow_missing: bool = False
    request_parameters: dict[str, Any] | None = Field(None, description="inputs of on-demand features")


class VectorsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[dict[str, Any]] = Field(max_length=MAX_BATCH)
    passed_features: list[dict[str, Any]] | None = None
    allow_missing: bool = False
    request_parameters: list[dict[str, Any]] | None = Field(None, description="inputs of on-demand features, per entry")


class VectorResponse(BaseModel):
    columns: list[str]
    vector: list[Any]
    status: str = Field(description="present, missing or too_old")
    timestamps: list[int] = Field([], description="positions of timestamp values (ISO-8601 text)")


class VectorsResponse(BaseModel):
    columns: list[str]
    vectors: list[list[Any]]
    statuses: list[str]
    timestamps: list[int] = Field([], description="positions of timestamp values (ISO-8601 text)")


ERRORS: dict[int, str] = {
    400: "malformed request: bad Host, JSON nested too deep",
    401: "no API key, or an invalid, expired or revoked one",
    403: "the key lacks the scope or project this route needs",
    404: "no such asset or version",
    413: "request body over the size limit",
    422: "invalid parameters or body",
    431: "request line and headers too large",
    503: "too many open connections",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, all with the one error shape."""
    return {status: {"model": ErrorBody, "description": ERRORS[status]} for status in statuses}


class AuditEntryInfo(BaseModel):
    id: int
    at: str
    principal: str
    project: str | None = None
    action: str
    object: str | None = None
    outcome: str
    details: dict[str, Any]


class KeyInfo(BaseModel):
    name: str
    prefix: str
    principal: str | None = None
    role: str | None = None
    scopes: list[str]
    effective_scopes: list[str]
    created_at: str
    expires_at: str | None = None
    last_used_at: str | None = None
    rotated_at: str | None = None
    revoked_at: str | None = None
    active: bool


class UserInfo(BaseModel):
    name: str
    role: str
    scopes: list[str]
    created_at: str
    removed_at: str | None = None
    active_keys: int


class WhoAmI(BaseModel):
    key: str | None = None
    principal: str | None = None
    role: str | None = None
    scopes: list[str]


class CommitInfo(BaseModel):
    commit_id: int | None = Field(description="None when the insert changed nothing")
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    committed_on: str | None = None


class TrainingDataInfo(BaseModel):
    parts: int = Field(description="how many frames fv.get_training_data returns")
    present: list[bool] = Field(description="False where the local call returns None")


class UploadInfo(BaseModel):
    upload_id: str
    max_part_bytes: int
