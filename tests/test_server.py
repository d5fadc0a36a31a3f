"""The HTTP server as users run it (DESIGN §7, STYLE "one JSON error shape tested on every
error path"): a real ``serve`` subprocess on a free loopback port, reached with httpx and
with ``lakebox.connect(url, api_key=...)``. API keys and scopes, revocation, the vector
routes, the Host allow-list, body limits, validation, the OpenAPI document, secrets kept out
of the logs, refusing an unsafe bind, and the client's error mapping."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day

import lakebox
from lakebox.errors import AuthError, NotFoundError, StorageError, ValidationError

ROOT = Path(__file__).resolve().parents[1]
SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))"
VECTOR = "/api/v1/feature-views/attendance/1/vector"
VECTORS = "/api/v1/feature-views/attendance/1/vectors"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(project: Any) -> None:
    fs = project.get_feature_store()
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    teams = fs.create_feature_group("teams", version=1, primary_key=["team_id"], online_enabled=True)
    activity = fs.create_feature_group("activity", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    gauges = fs.create_feature_group("gauges", version=1, primary_key=["gid"], online_enabled=True)
    labels.insert(
        pa.table({"pid": pa.array([1, 2, 3], pa.int64()), "ts": pa.array([day(5)] * 3, TS), "label": pa.array([0, 1, 0], pa.int64())})
    )
    players.insert(
        pa.table(
            {
                "pid": pa.array([1, 2, 3, 1], pa.int64()),
                "ts": pa.array([day(1), day(1), day(1), day(2)], TS),
                "age": pa.array([20.0, None, 30.0, 21.0], pa.float64()),
                "team_id": pa.array([1, 2, 7, 2], pa.int64()),
            }
        )
    )
    teams.insert(pa.table({"team_id": pa.array([1, 2], pa.int64()), "city": ["Oslo", "Tromsø"]}))
    now = datetime.now(UTC)
    activity.insert(
        pa.table(
            {
                "pid": pa.array([1, 2], pa.int64()),
                "ts": pa.array([now - timedelta(minutes=5), day(1)], TS),
                "level": pa.array([5, 6], pa.int64()),
            }
        )
    )
    gauges.insert(pa.table({"gid": pa.array([1, 2], pa.int64()), "v": pa.array([1.5, float("nan")], pa.float64())}))
    query = labels.select(["label"]).join(players.select(["age", "team_id"])).join(teams.select(["city"]), on=["team_id"])
    fs.create_feature_view("attendance", version=1, query=query, labels=["label"])
    fresh = players.select(["age"]).join(activity.select(["level"]), max_age=timedelta(hours=1))
    fs.create_feature_view("fresh", version=1, query=fresh)
    fs.create_feature_view("gauge_view", version=1, query=gauges.select(["v"]))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("server")
    path = folder / "served.lakebox"
    project = lakebox.connect(path)
    _build(project)
    keys = {
        "admin": project.create_api_key("admin", scopes=["admin"]),
        "online": project.create_api_key("online", scopes=["read:online"]),
        "offline": project.create_api_key("offline", scopes=["read:offline"]),
    }
    port = free_port()
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(path), str(port)],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, f"the server exited: {err.read_text()}"
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield {"base": base, "port": port, "keys": keys, "project": project, "proc": proc, "stdout": out, "stderr": err}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        project.close()


def call(server: dict[str, Any], method: str, path: str, key: str | None = "online", **kwargs: Any) -> httpx.Response:
    """One request on a fresh connection (a 500 may close a kept-alive one)."""
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {server['keys'][key]}")
    return httpx.request(method, server["base"] + path, headers=headers, timeout=10, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape: JSON with exactly error, message, details; never a traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    assert "Traceback" not in response.text and 'File "' not in response.text
    if code is not None:
        assert body["error"] == code
    return body


# -- auth -------------------------------------------------------------------------------------
def test_health_needs_no_key(server: dict[str, Any]) -> None:
    response = call(server, "GET", "/health", key=None)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer lbk_only-two"},
        {"Authorization": "Bearer lbk_deadbeef_notthesecret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "lbk_deadbeef_notthesecret"},
    ],
    ids=["none", "empty", "malformed", "two-parts", "wrong", "basic", "x-api-key-wrong"],
)
@pytest.mark.parametrize("route", [("GET", "/api/v1/feature-views"), ("POST", VECTOR)])
def test_requests_without_a_valid_key_get_401(server: dict[str, Any], headers: dict[str, str], route: tuple[str, str]) -> None:
    method, path = route
    response = call(server, method, path, key=None, headers=headers, json={"entry": {"pid": 1}})
    assert_error(response, 401, "auth_error")


def test_a_wrong_secret_with_a_real_prefix_gets_401(server: dict[str, Any]) -> None:
    real = server["keys"]["admin"]
    tampered = real[:-1] + ("A" if real[-1] != "A" else "B")
    assert_error(call(server, "GET", "/api/v1/feature-groups", key=None, headers={"Authorization": f"Bearer {tampered}"}), 401)


def test_x_api_key_header_is_accepted(server: dict[str, Any]) -> None:
    response = call(server, "GET", "/api/v1/feature-views", key=None, headers={"X-API-Key": server["keys"]["online"]})
    assert response.status_code == 200
    assert {v["name"] for v in response.json()} == {"attendance", "fresh", "gauge_view"}


def test_a_missing_scope_gets_403_naming_it(server: dict[str, Any]) -> None:
    body = assert_error(call(server, "GET", "/api/v1/feature-groups", key="online"), 403, "forbidden")
    assert "read:offline" in body["message"] and "'online'" in body["message"]
    assert body["details"] == {"missing_scope": "read:offline"}
    body = assert_error(call(server, "POST", VECTOR, key="offline", json={"entry": {"pid": 1}}), 403, "forbidden")
    assert "read:online" in body["message"]
    assert call(server, "GET", "/api/v1/feature-groups", key="offline").status_code == 200
    assert call(server, "GET", "/api/v1/feature-groups/players", key="admin").json()["online_enabled"] is True


def test_revocation_is_effective_on_the_next_request(server: dict[str, Any]) -> None:
    project = server["project"]
    secret = project.create_api_key("temporary", scopes=["read:online"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert call(server, "POST", VECTOR, key=None, headers=headers, json={"entry": {"pid": 1}}).status_code == 200
    project.revoke_api_key("temporary")
    body = assert_error(call(server, "POST", VECTOR, key=None, headers=headers, json={"entry": {"pid": 1}}), 401)
    assert "revoked" in body["message"]


# -- vector routes ----------------------------------------------------------------------------
def test_vector_route(server: dict[str, Any]) -> None:
    response = call(server, "POST", VECTOR, json={"entry": {"pid": 1}})
    assert response.status_code == 200
    assert response.json() == {
        "columns": ["age", "team_id", "city"], "vector": [21.0, 2, "Tromsø"], "status": "present", "timestamps": []
    }
    local = server["project"].get_feature_store().get_feature_view("attendance", 1)
    assert response.json()["vector"] == local.get_feature_vector({"pid": 1})
    body = call(server, "POST", VECTOR, json={"entry": {"pid": 3}, "allow_missing": True}).json()
    assert body["vector"] == [30.0, 7, None] and body["status"] == "missing"
    passed = call(server, "POST", VECTOR, json={"entry": {"pid": 2}, "passed_features": {"age": 44.5}}).json()
    assert passed["vector"] == [44.5, 2, "Tromsø"]
    assert_error(call(server, "POST", VECTOR, json={"entry": {"pid": 99}}), 404, "not_found")


def test_vectors_route_one_result_per_key_in_order(server: dict[str, Any]) -> None:
    entries = [{"pid": 3}, {"pid": 99}, {"pid": 1}, {"pid": 2}, {"pid": 1}]
    response = call(server, "POST", VECTORS, json={"entries": entries, "allow_missing": True})
    assert response.status_code == 200
    body = response.json()
    assert body["columns"] == ["age", "team_id", "city"]
    assert body["statuses"] == ["missing", "missing", "present", "present", "present"]
    assert body["vectors"] == [[30.0, 7, None], [None, None, None], [21.0, 2, "Tromsø"], [None, 2, "Tromsø"], [21.0, 2, "Tromsø"]]
    fresh = call(
        server, "POST", "/api/v1/feature-views/fresh/1/vectors", json={"entries": [{"pid": 2}, {"pid": 3}, {"pid": 1}], "allow_missing": True}
    ).json()
    assert fresh["statuses"] == ["too_old", "missing", "present"]
    assert fresh["vectors"] == [[None, None], [30.0, None], [21.0, 5]]
    assert call(server, "POST", VECTORS, json={"entries": []}).json()["vectors"] == []
    assert_error(call(server, "POST", VECTORS, json={"entries": entries}), 404, "not_found")


def test_unknown_views_get_404(server: dict[str, Any]) -> None:
    assert_error(call(server, "POST", "/api/v1/feature-views/nope/1/vector", json={"entry": {"pid": 1}}), 404, "not_found")
    assert_error(call(server, "POST", "/api/v1/feature-views/attendance/9/vectors", json={"entries": []}), 404, "not_found")
    assert_error(call(server, "GET", "/api/v1/feature-views/nope"), 404, "not_found")
    assert_error(call(server, "GET", "/no/such/route"), 404)


# -- guards and validation ----------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", ""])
def test_a_host_outside_the_allow_list_gets_400(server: dict[str, Any], host: str) -> None:
    body = assert_error(call(server, "GET", "/health", key=None, headers={"Host": host}), 400, "invalid_host")
    assert "allowed" in body["message"]
    assert_error(call(server, "POST", VECTOR, headers={"Host": host}, json={"entry": {"pid": 1}}), 400, "invalid_host")


def test_loopback_names_are_allowed(server: dict[str, Any]) -> None:
    for host in (f"localhost:{server['port']}", "LOCALHOST", f"127.0.0.1:{server['port']}"):
        assert call(server, "GET", "/health", key=None, headers={"Host": host}).status_code == 200


def test_a_body_over_1_mib_gets_413(server: dict[str, Any]) -> None:
    padding = json.dumps({"entry": {"pid": 1, "pad": "x" * MIB}}).encode()
    assert_error(
        call(server, "POST", VECTOR, content=padding, headers={"Content-Type": "application/json"}), 413, "payload_too_large"
    )

    def chunks() -> Iterator[bytes]:  # no content-length: Transfer-Encoding: chunked
        yield b'{"entry": {"pid": 1, "pad": "'
        for _ in range(5):
            yield b"x" * (300 * 1024)
        yield b'"}}'

    assert_error(call(server, "POST", VECTORS, content=chunks()), 413, "payload_too_large")
    # Just under the limit is fine (and is then validated as usual).
    small = json.dumps({"entry": {"pid": 1}, "passed_features": {"age": 1.0, "city": "y" * (MIB - 200)}}).encode()
    assert len(small) < MIB
    response = call(server, "POST", VECTOR, content=small)
    assert response.status_code == 200 and response.json()["vector"][2] == "y" * (MIB - 200)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (VECTOR, b"{not json"),
        (VECTOR, b""),
        (VECTOR, b"[1, 2]"),
        (VECTOR, b'"entry"'),
        (VECTOR, b"{}"),
        (VECTOR, b'{"entry": {"pid": 1}, "extra": 1}'),
        (VECTOR, b'{"entries": [{"pid": 1}]}'),
        (VECTOR, b'{"entry": 5}'),
        (VECTOR, b'{"entry": [1]}'),
        (VECTOR, b'{"entry": {"pid": 1}, "allow_missing": "yes"}'),
        (VECTOR, b'{"entry": {"pid": "1"}}'),
        (VECTOR, b'{"entry": {"pid": 1.5}}'),
        (VECTOR, b'{"entry": {"player": 1}}'),
        (VECTOR, b'{"entry": {"pid": 1}, "passed_features": {"nope": 1}}'),
        (VECTORS, b'{"entries": "x"}'),
        (VECTORS, b'{"entries": [1, 2]}'),
        (VECTORS, b'{"entries": [{"pid": 1}], "passed_features": [{}, {}]}'),
        (VECTORS, b'{"entry": {"pid": 1}}'),
        (VECTOR, b'{"entry": {"pid": 1}, "request_parameters": 5}'),
        (VECTORS, b'{"entries": [{"pid": 1}], "request_parameters": {"x": 1}}'),
        (VECTOR, b'{"entry": {"pid": 1}, "request_parameters": {"not_a_parameter": 1}}'),
        ("/api/v1/feature-views/attendance/one/vector", b'{"entry": {"pid": 1}}'),
    ],
)
def test_invalid_bodies_get_422(server: dict[str, Any], path: str, body: bytes) -> None:
    response = call(server, "POST", path, content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422)
    assert response.json()["error"] in ("validation_error",)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (VECTOR, b'{"entry": {"pid": 1}, "passed_features": 5}'),
        (VECTORS, b'{"entries": [{"pid": 1}], "passed_features": ["x"]}'),
    ],
)
def test_passed_features_of_the_wrong_type_get_422(server: dict[str, Any], path: str, body: bytes) -> None:
    assert_error(call(server, "POST", path, content=body), 422)


def test_a_nan_feature_value_is_served(server: dict[str, Any]) -> None:
    response = call(server, "POST", "/api/v1/feature-views/gauge_view/1/vectors", json={"entries": [{"gid": 1}, {"gid": 2}]})
    assert response.status_code == 200, response.text
    assert response.json()["vectors"] == [[1.5], [None]]


def test_an_integer_key_beyond_int64_does_not_alias(server: dict[str, Any]) -> None:
    response = call(server, "POST", VECTOR, json={"entry": {"pid": 2**64 + 1}, "allow_missing": True})
    assert response.status_code == 422 or response.json()["status"] == "missing", response.text


def test_openapi_lists_the_vector_routes_with_request_bodies(server: dict[str, Any]) -> None:
    response = call(server, "GET", "/openapi.json", key=None)
    assert response.status_code == 200
    document = response.json()
    paths, models = document["paths"], document["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        return models[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    for route, field in (("/api/v1/feature-views/{name}/{version}/vector", "entry"), ("/api/v1/feature-views/{name}/{version}/vectors", "entries")):
        post = paths[route]["post"]
        schema = resolve(post["requestBody"]["content"]["application/json"]["schema"])
        assert post["requestBody"]["required"] is True
        assert field in schema["properties"] and field in schema["required"]
        assert {"passed_features", "allow_missing"} <= set(schema["properties"])
        assert schema.get("additionalProperties") is False
    assert "/health" in paths and "/api/v1/feature-groups" in paths


def test_openapi_has_a_bearer_scheme_and_a_schema_for_every_response(server: dict[str, Any]) -> None:
    document = call(server, "GET", "/openapi.json", key=None).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == ([] if path == "/health" else [{"bearer": []}, {"api_key": []}]), path
            for status, answer in operation["responses"].items():
                content = answer.get("content", {})
                assert content, f"{method} {path} {status} has no response schema"
                if status != "200":
                    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_docs_are_served_offline_and_need_no_key(server: dict[str, Any]) -> None:
    page = call(server, "GET", "/docs", key=None)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        assert call(server, "GET", asset, key=None).status_code == 200
    redoc = call(server, "GET", "/redoc", key=None)
    assert redoc.status_code == 200 and "https://" not in redoc.text
    assert call(server, "GET", "/docs/static/redoc.standalone.js", key=None).status_code == 200


# -- serve() refuses unsafe configurations -------------------------------------------------------
def test_serve_refuses_a_public_bind_without_keys(tmp_path: Path) -> None:
    from lakebox.server.app import serve

    port = free_port()
    with lakebox.connect(tmp_path / "nokeys.lakebox") as project:
        with pytest.raises(AuthError, match=r"Refusing to bind 0\.0\.0\.0.*apikey create"):
            serve(project, host="0.0.0.0", port=port)
        project.create_api_key("k", scopes=["read:online"])
        with pytest.raises(AuthError, match="no-auth"):
            serve(project, host="0.0.0.0", port=port, no_auth=True)
    with socket.socket() as s:  # nothing was bound
        s.bind(("0.0.0.0", port))


# -- the Python client -------------------------------------------------------------------------
def test_the_client_serves_the_same_vectors(server: dict[str, Any]) -> None:
    with lakebox.connect(server["base"], api_key=server["keys"]["online"]) as remote:
        assert remote.health() == {"status": "ok"}
        fv = remote.get_feature_store().get_feature_view("attendance", 1)
        assert fv.primary_key == ["pid"] and fv.labels == ["label"]
        local = server["project"].get_feature_store().get_feature_view("attendance", 1)
        assert fv.get_feature_vector({"pid": 1}) == local.get_feature_vector({"pid": 1})
        assert fv.get_feature_vector({"pid": 1}, return_type="dict") == {"age": 21.0, "team_id": 2, "city": "Tromsø"}
        vectors, statuses = fv.get_feature_vectors([{"pid": 2}, {"pid": 99}], allow_missing=True, return_status=True)
        assert vectors == [[None, 2, "Tromsø"], [None, None, None]] and statuses == ["present", "missing"]
        frame = fv.get_feature_vectors([{"pid": 1}, {"pid": 2}], return_type="pandas")
        assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["age", "team_id", "city"]
        latest = remote.get_feature_store().get_feature_view("attendance")
        assert latest.version == 1


def test_the_client_maps_errors(server: dict[str, Any]) -> None:
    base = server["base"]
    with lakebox.connect(base, api_key="lbk_deadbeef_wrong") as remote:
        with pytest.raises(AuthError, match="401"):
            remote.get_feature_store().get_feature_view("attendance", 1)
    with lakebox.connect(base) as remote:
        with pytest.raises(AuthError, match="API key is required"):
            remote.get_feature_store().get_feature_view("attendance", 1)
    with lakebox.connect(base, api_key=server["keys"]["online"]) as remote:
        fs = remote.get_feature_store()
        with pytest.raises(AuthError, match="403"):
            fs.get_feature_group("players")
        with pytest.raises(NotFoundError, match="nope"):
            fs.get_feature_view("nope", 1)
        fv = fs.get_feature_view("attendance", 1)
        with pytest.raises(ValidationError, match="pid"):
            fv.get_feature_vector({"pid": "one"})
        with pytest.raises(ValidationError):
            fv.get_feature_vectors([{"wrong": 1}])
        with pytest.raises(NotFoundError, match="allow_missing"):
            fv.get_feature_vector({"pid": 99})


def test_the_client_reports_a_dead_server_as_storage_error() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with lakebox.connect(f"http://127.0.0.1:{port}", api_key="lbk_x_y", timeout=3.0) as remote:
        with pytest.raises(StorageError, match=rf"Cannot reach the lakebox server at http://127\.0\.0\.1:{port}"):
            remote.get_feature_store().get_feature_view("attendance", 1)
        with pytest.raises(StorageError):
            remote.health()
    assert time.monotonic() - started < 3.0 * 2 + 1


# -- last: nothing secret in the server's output -----------------------------------------------------
def test_the_key_secrets_never_appear_in_the_server_output(server: dict[str, Any]) -> None:
    for key in server["keys"]:
        call(server, "GET", "/api/v1/feature-views", key=key)
        call(server, "GET", "/api/v1/feature-groups", key=key)
        call(server, "POST", VECTOR, key=key, content=b"{not json")
    call(server, "POST", "/api/v1/feature-views/gauge_view/1/vector", json={"entry": {"gid": 2}})  # a 500 today
    assert server["proc"].poll() is None  # still serving after all of it
    time.sleep(0.2)
    output = server["stdout"].read_bytes() + server["stderr"].read_bytes()
    for secret in server["keys"].values():
        assert secret.encode() not in output
        assert secret.rsplit("_", 1)[1].encode() not in output
