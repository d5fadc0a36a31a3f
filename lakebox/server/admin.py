"""Routes for a project's owner (``admin`` scope): the audit log, principals and keys (never
their secrets); and ``/api/v1/whoami`` for any valid key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from starlette.requests import Request

from lakebox.project import Project
from lakebox.security import key_info
from lakebox.server.auth import Authorizer
from lakebox.server.schemas import AuditEntryInfo, KeyInfo, UserInfo, WhoAmI, error_responses

ERRORS = error_responses(400, 401, 403, 422)


def add_admin_routes(app: FastAPI, project: Project, auth: Authorizer) -> None:
    admin = [Depends(auth.dependency("admin"))]

    @app.get("/api/v1/audit", tags=["admin"], dependencies=admin, response_model=list[AuditEntryInfo], responses=ERRORS)
    def audit(
        action: Annotated[str | None, Query(max_length=200, description="an action or its prefix: write, key")] = None,
        principal: Annotated[str | None, Query(max_length=200, description="who; 'local' for in-process use")] = None,
        object: Annotated[str | None, Query(max_length=400, description="e.g. feature_group:players")] = None,
        since: Annotated[str | None, Query(max_length=40, description="1d, 12h, or an ISO date")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        entries = project.get_audit_log(action, principal, object, since, limit)
        return [e.to_dict() for e in entries]

    @app.get("/api/v1/users", tags=["admin"], dependencies=admin, response_model=list[UserInfo], responses=ERRORS)
    def users() -> list[dict[str, Any]]:
        return project.get_users()

    @app.get("/api/v1/api-keys", tags=["admin"], dependencies=admin, response_model=list[KeyInfo], responses=ERRORS)
    def api_keys() -> list[dict[str, Any]]:
        return [key_info(k) for k in project.get_api_keys()]

    @app.get("/api/v1/whoami", tags=["admin"], response_model=WhoAmI, responses=ERRORS)
    async def whoami(request: Request) -> dict[str, Any]:
        key = auth.check(request, "read:online", "read:offline", "write", "predict", "admin")
        if key is None:
            return {"key": None, "principal": None, "role": None, "scopes": ["admin"]}
        return {"key": key.name, "principal": key.principal, "role": key.role, "scopes": list(key.effective_scopes)}
