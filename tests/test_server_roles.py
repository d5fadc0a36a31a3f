"""Principals, roles and keys against a real server: a table of every role x route (allowed:
2xx, not allowed: 403, no key: 401), role changes and removal on the next request, expiry,
rotation, last use, and the audit log (writes by catalog triggers, key and role changes,
refused requests, rate-limited)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from http_server import free_port, running

import lakebox
from lakebox.errors import NotFoundError, ValidationError
from lakebox.security import create_api_key

SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))"
VECTOR = ("POST", "/api/v1/feature-views/ages/1/vector", {"entry": {"pid": 1}})
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "groups": ("GET", "/api/v1/feature-groups", None),
    "group": ("GET", "/api/v1/feature-groups/players", None),
    "views": ("GET", "/api/v1/feature-views", None),
    "vector": VECTOR,
    "vectors": ("POST", "/api/v1/feature-views/ages/1/vectors", {"entries": [{"pid": 1}]}),
    "audit": ("GET", "/api/v1/audit", None),
    "users": ("GET", "/api/v1/users", None),
    "keys": ("GET", "/api/v1/api-keys", None),
    "whoami": ("GET", "/api/v1/whoami", None),
    "deployments": ("GET", "/api/v1/deployments", None),
    "read": ("GET", "/api/v1/feature-groups/players/1/data", None),
    "insert": ("POST", "/api/v1/feature-groups/players/1/insert", None),  # body: one row, Arrow IPC
}
ALLOWED: dict[str, set[str]] = {
    "owner": set(ROUTES),
    "editor": {"groups", "group", "views", "vector", "vectors", "whoami", "deployments", "read", "insert"},
    "viewer": {"groups", "group", "views", "vector", "vectors", "whoami", "deployments", "read"},
    "serving": {"views", "vector", "vectors", "whoami", "deployments"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("roles")
    path = folder / "team.lakebox"
    project = lakebox.connect(path)
    fs = project.get_feature_store()
    fg = fs.create_feature_group("players", version=1, primary_key=["pid"], online_enabled=True)
    fg.insert(pa.table({"pid": pa.array([1, 2], pa.int64()), "age": pa.array([20.0, 30.0])}))
    fs.create_feature_view("ages", version=1, query=fg.select(["age"]))
    keys = {}
    for role in ALLOWED:
        project.add_user(f"{role}_user", role)
        keys[role] = create_api_key(project, f"{role}_key", principal=f"{role}_user")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(SERVE, str(path), str(port), folder=folder, base=base) as proc:
        yield {"base": base, "keys": keys, "project": project, **proc}
    project.close()


def call(server: dict[str, Any], route: tuple[str, str, dict[str, Any] | None], secret: str | None) -> httpx.Response:
    method, path, body = route
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    if path.endswith("/insert"):
        from lakebox.server.arrowio import MEDIA_TYPE, encode

        row = pa.table({"pid": pa.array([2], pa.int64()), "age": pa.array([30.0])})
        return httpx.post(server["base"] + path, headers={**headers, "Content-Type": MEDIA_TYPE}, content=encode(row),
                          timeout=30)  # fmt: skip
    return httpx.request(method, server["base"] + path, headers=headers, json=body, timeout=10)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("role", [*ALLOWED, None], ids=[*ALLOWED, "no-key"])
def test_role_by_route(server: dict[str, Any], role: str | None, route: str) -> None:
    response = call(server, ROUTES[route], server["keys"][role] if role else None)
    if role is None:
        expected = 401
    else:
        expected = 200 if route in ALLOWED[role] else 403
    assert response.status_code == expected, f"{role} {route}: {response.text}"
    if expected == 403:
        assert response.json()["error"] == "forbidden"


def test_a_key_never_exceeds_its_role(server: dict[str, Any]) -> None:
    project = server["project"]
    with pytest.raises(ValidationError, match="serving.*cannot hold.*write"):
        create_api_key(project, "too_much", ["write"], principal="serving_user")
    with pytest.raises(NotFoundError, match="users add"):
        create_api_key(project, "nobody_key", principal="nobody")


def test_a_role_change_and_a_removal_apply_on_the_next_request(server: dict[str, Any]) -> None:
    project = server["project"]
    project.add_user("carol", "viewer")
    secret = create_api_key(project, "carol_key", principal="carol")
    groups = ROUTES["groups"]
    assert call(server, groups, secret).status_code == 200
    project.set_user_role("carol", "serving")
    assert call(server, groups, secret).status_code == 403
    assert call(server, VECTOR, secret).status_code == 200
    project.remove_user("carol")
    assert call(server, VECTOR, secret).status_code == 401
    assert not project.get_api_key("carol_key").active


def test_rotation_and_expiry(server: dict[str, Any]) -> None:
    project = server["project"]
    old = create_api_key(project, "rotating", ["read:online"], expires="30d")
    assert call(server, VECTOR, old).status_code == 200
    new = project.rotate_api_key("rotating")
    assert call(server, VECTOR, old).status_code == 401
    assert call(server, VECTOR, new).status_code == 200
    key = project.get_api_key("rotating")
    assert key.rotated_at is not None and key.expires_at is not None and key.last_used_at is not None
    with project.catalog.write() as conn:  # the clock moves on: the key's expiry passes
        conn.execute("UPDATE api_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE name = 'rotating'")
    response = call(server, VECTOR, new)
    assert response.status_code == 401 and "expired" in response.json()["message"]
    with pytest.raises(ValidationError, match="past"):
        create_api_key(project, "late", expires="2001-01-01")
    with pytest.raises(ValidationError, match="duration"):
        create_api_key(project, "late", expires="soon")


def test_the_audit_log_records_writes_changes_and_refusals(server: dict[str, Any]) -> None:
    project = server["project"]
    fg = project.get_feature_store().get_feature_group("players", 1)
    fg.insert(pa.table({"pid": pa.array([3], pa.int64()), "age": pa.array([40.0])}))
    writes = project.get_audit_log(action="write")
    assert writes[0].action == "write.insert" and writes[0].object == "feature_group:players:1"
    assert writes[0].principal is None and writes[0].details["rows_inserted"] == 1
    assert [e.action for e in project.get_audit_log(object="feature_view:ages")] == ["create"]
    for _ in range(3):
        call(server, VECTOR, "lbk_deadbeef_wrong")
    call(server, ROUTES["audit"], server["keys"]["viewer"])
    refused = project.get_audit_log(action="auth", since="1h")
    assert {"auth.failed", "auth.forbidden"} <= {e.action for e in refused}
    failed = next(e for e in refused if e.action == "auth.failed")
    assert failed.outcome == "denied" and failed.details["path"] == VECTOR[1] and failed.details["key_prefix"] == "deadbeef"
    forbidden = next(e for e in refused if e.action == "auth.forbidden")
    assert forbidden.principal == "viewer_key" and forbidden.object == "key:viewer_key"
    changes = {e.action for e in project.get_audit_log(object="principal", limit=1000)} | {e.action for e in project.get_audit_log(action="key")}
    assert {"principal.add", "key.create"} <= changes
    # the owner reads the same log over HTTP
    over_http = call(server, ROUTES["audit"], server["keys"]["owner"]).json()
    assert over_http[0]["id"] == project.get_audit_log(limit=1)[0].id


def test_a_flood_of_bad_keys_is_recorded_at_most_60_times_a_minute(server: dict[str, Any]) -> None:
    project = server["project"]
    before = len(project.get_audit_log(action="auth.failed", limit=10_000))
    with httpx.Client(base_url=server["base"], timeout=10) as client:
        for _ in range(150):
            assert client.get("/api/v1/feature-groups", headers={"Authorization": "Bearer lbk_x_y"}).status_code == 401
    after = len(project.get_audit_log(action="auth.failed", limit=10_000))
    assert 0 < after - before <= 60


def test_whoami_names_the_principal_and_role(server: dict[str, Any]) -> None:
    body = call(server, ROUTES["whoami"], server["keys"]["serving"]).json()
    assert body == {"key": "serving_key", "principal": "serving_user", "role": "serving", "scopes": ["read:online", "predict"]}
