"""The hostile cases of issue 15 as regression tests, against a real server process on
127.0.0.1 over real sockets: deep JSON, out-of-range and non-ASCII versions, duplicate Host
headers, slow and idle clients, an oversized request head, and the connection cap."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pytest
from http_server import free_port, running, wait_closed

import lakebox

LIMITS = "Limits(head_timeout=1.0, body_timeout=1.0, keep_alive=1, max_connections=40)"
SERVE = (
    "import sys, lakebox; from lakebox.server.app import serve; from lakebox.server.protocol import Limits; "
    f"serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]), limits={LIMITS})"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("hardening")
    path = folder / "box.lakebox"
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("players", version=1, primary_key=["pid"], online_enabled=True)
        fg.insert(pa.table({"pid": pa.array([1, 2], pa.int64()), "age": pa.array([20.0, 30.0])}))
        fs.create_feature_view("ages", version=1, query=fg.select(["age"]))
        key = project.create_api_key("admin", scopes=["admin"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(SERVE, str(path), str(port), folder=folder, base=base) as proc:
        yield {"base": base, "port": port, "key": key, **proc}
        assert proc["proc"].poll() is None, "the server died during the tests"


def call(server: dict[str, Any], method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server['key']}", **kwargs.pop("headers", {})}
    return httpx.request(method, server["base"] + path, headers=headers, timeout=10, **kwargs)


def raw(server: dict[str, Any], data: bytes) -> bytes:
    """Send ``data`` on a fresh socket and read the answer until the server closes or a full
    response with a body has arrived."""
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return answer
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if length and len(body) >= length[0]:
                return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def sockets(server: dict[str, Any], n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", server["port"]), timeout=10) for _ in range(n)]


# -- bodies ---------------------------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"entry": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"entry": {"pid": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}}",
        b'{"entries": [' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_000 + b"]}",
    ],
    ids=["top", "inside-entry", "just-too-deep", "inside-entries"],
)
def test_deeply_nested_json_is_400(server: dict[str, Any], body: bytes) -> None:
    for route in ("vector", "vectors"):
        response = call(server, "POST", f"/api/v1/feature-views/ages/1/{route}", content=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "validation_error" and "deeper" in response.json()["message"]


def test_nesting_within_the_bound_is_validated_as_usual(server: dict[str, Any]) -> None:
    body = b'{"entry": {"pid": ' + b"[" * 20 + b"1" + b"]" * 20 + b"}}"
    assert call(server, "POST", "/api/v1/feature-views/ages/1/vector", content=body).status_code == 422


# -- versions -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "status"),
    [(str(2**63), 404), (str(10**30), 404), (str(2**31), 404), ("%C2%B2", 422), ("%D9%A3", 422), ("0", 422),
     ("-1", 422), ("1.0", 422), ("+1", 422), (" 1", 422)],
)
def test_path_versions_are_ascii_integers_in_range(server: dict[str, Any], version: str, status: int) -> None:
    for route in ("vector", "vectors"):
        body = {"entry": {"pid": 1}} if route == "vector" else {"entries": [{"pid": 1}]}
        response = call(server, "POST", f"/api/v1/feature-views/ages/{version}/{route}", json=body)
        assert response.status_code == status, response.text


@pytest.mark.parametrize("version", [str(2**63), str(10**30), "²", "0", "-3", "x"])
@pytest.mark.parametrize("route", ["feature-groups/players", "feature-views/ages"])
def test_query_versions_are_integers_in_range(server: dict[str, Any], route: str, version: str) -> None:
    response = call(server, "GET", f"/api/v1/{route}", params={"version": version})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"


def test_a_version_in_range_still_works(server: dict[str, Any]) -> None:
    assert call(server, "GET", "/api/v1/feature-groups/players", params={"version": 1}).status_code == 200
    assert call(server, "GET", "/api/v1/feature-groups/players", params={"version": 2**31 - 1}).status_code == 404
    assert call(server, "POST", "/api/v1/feature-views/ages/1/vector", json={"entry": {"pid": 1}}).json()["vector"] == [20.0]


# -- Host -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "hosts",
    [[b"evil.example", b"localhost"], [b"localhost", b"evil.example"], [b"localhost", b"localhost"], []],
    ids=["evil-first", "evil-second", "same-twice", "none"],
)
def test_duplicate_or_missing_host_headers_are_400(server: dict[str, Any], hosts: list[bytes]) -> None:
    head = b"GET /health HTTP/1.1\r\n" + b"".join(b"Host: " + h + b"\r\n" for h in hosts) + b"Connection: close\r\n\r\n"
    answer = raw(server, head)
    assert status_of(answer) == 400, answer
    assert b'"invalid_host"' in answer


def test_one_loopback_host_header_passes(server: dict[str, Any]) -> None:
    answer = raw(server, b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(answer) == 200


def test_conflicting_content_lengths_are_refused(server: dict[str, Any]) -> None:
    head = (b"POST /api/v1/feature-views/ages/1/vector HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
            b"Content-Length: 200\r\nConnection: close\r\n\r\n{}")
    assert status_of(raw(server, head)) in (400, 413)


# -- slow, idle and too many clients ------------------------------------------------------------------
def test_trickling_clients_are_closed_by_the_head_deadline(server: dict[str, Any]) -> None:
    held = sockets(server, 30)
    for s in held:
        s.sendall(b"G")
    received = wait_closed(held, deadline_s=30, poke=b"E")
    # Each got the 408 (or was closed while its bytes were in flight).
    assert sum(b" 408 " in r for r in received) >= 25
    assert call(server, "GET", "/health").status_code == 200


def test_idle_connections_are_closed(server: dict[str, Any]) -> None:
    held = sockets(server, 30)
    wait_closed(held, deadline_s=30)
    assert call(server, "GET", "/health").status_code == 200


def test_idle_keep_alive_connections_are_closed_after_a_response(server: dict[str, Any]) -> None:
    held = sockets(server, 10)
    for s in held:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    received = wait_closed(held, deadline_s=30)
    assert all(r.startswith(b"HTTP/1.1 200") for r in received)


def test_a_slow_body_is_cut_off(server: dict[str, Any]) -> None:
    held = sockets(server, 5)
    for s in held:
        s.sendall(b"POST /api/v1/feature-views/ages/1/vector HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Length: 100000\r\nContent-Type: application/json\r\n\r\n{")
    wait_closed(held, deadline_s=30, poke=b" ")
    assert call(server, "POST", "/api/v1/feature-views/ages/1/vector", json={"entry": {"pid": 2}}).json()["vector"] == [30.0]


def test_an_oversized_request_head_is_431(server: dict[str, Any]) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + b"X-Pad: " + b"a" * 100_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        try:
            s.sendall(head)
        except OSError:  # the server may close while we still send
            pass
        answer = wait_closed([s], deadline_s=30)[0]
    assert b" 431 " in answer


def test_the_connection_cap_evicts_idle_connections_first(server: dict[str, Any]) -> None:
    held = sockets(server, 60)  # over the cap of 40, all idle
    try:
        # A real request still gets through: the oldest idle connection makes room.
        for _ in range(5):
            assert call(server, "GET", "/health").status_code == 200
    finally:
        for s in held:
            s.close()


def test_the_server_is_still_healthy_after_everything(server: dict[str, Any]) -> None:
    time.sleep(0)  # no timing: only that the process answers
    assert call(server, "GET", "/health").json() == {"status": "ok"}
    assert server["proc"].poll() is None
    assert b"Traceback" not in server["stderr"].read_bytes()
