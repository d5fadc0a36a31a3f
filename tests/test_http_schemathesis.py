"""schemathesis (property-based API testing) against the OpenAPI document a real server
serves: every operation, bounded examples, with an admin key and with none. No response may
be a server error, and every response must match its documented status, content type and
schema."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from http_server import free_port, running

import lakebox

SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))"
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("schemathesis")
    path = folder / "box.lakebox"
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
        fg.insert(pa.table({
            "pid": pa.array([1, 2], pa.int64()),
            "ts": pa.array([0, 1], pa.timestamp("us", tz="UTC")),
            "age": pa.array([20.0, float("nan")]),
            "name": ["a", None],
        }))
        fs.create_feature_view("ages", version=1, query=fg.select(["age", "name"]))
        key = project.create_api_key("admin", scopes=["admin"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(SERVE, str(path), str(port), folder=folder, base=base) as proc:
        yield {"base": base, "key": key, "folder": folder, **proc}


@pytest.mark.slow
@pytest.mark.parametrize("with_key", [True, False], ids=["admin-key", "no-key"])
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(server: dict[str, Any], with_key: bool) -> None:
    st = Path(sys.executable).parent / "st"
    command = [
        str(st), "run", server["base"] + "/openapi.json", "--max-examples", "25", "--workers", "1", "--seed", "15",
        "--generation-database", "none", "--checks", CHECKS, "--no-color", "--request-timeout", "20",
    ]
    if with_key:
        command += ["--header", f"Authorization: Bearer {server['key']}"]
    result = subprocess.run(command, cwd=server["folder"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", result.stdout)
    assert selected and selected[1] == selected[2], result.stdout[-3000:]  # every operation was tested
    assert server["proc"].poll() is None
