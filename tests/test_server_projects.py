"""``lakebox serve --home DIR``: every box under DIR is a project under
``/api/v1/projects/{project}/...``; keys belong to their project; ``lakebox projects``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest
from http_server import free_port, running

import lakebox
from lakebox.errors import AuthError

CLI = "import sys; from lakebox.cli import main; sys.argv = ['lakebox', *sys.argv[1:]]; main()"


def lakebox_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("home")
    for name in ("shop", "lab"):
        assert lakebox_cli("projects", "create", name, "--home", str(folder)).returncode == 0
    keys = {}
    for name, ages in (("shop", [20.0, 30.0]), ("lab", [1.0, 2.0])):
        with lakebox.connect(folder / f"{name}.lakebox") as project:
            fs = project.get_feature_store()
            fg = fs.create_feature_group("players", version=1, primary_key=["pid"], online_enabled=True)
            fg.insert(pa.table({"pid": pa.array([1, 2], pa.int64()), "age": pa.array(ages)}))
            fs.create_feature_view("ages", version=1, query=fg.select(["age"]))
            keys[name] = project.create_api_key(f"{name}_key", scopes=["read:online", "read:offline"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(CLI, "serve", "--home", str(folder), "--port", str(port), "--default-project", "lab", folder=folder,
                 base=base) as proc:  # fmt: skip
        yield {"base": base, "keys": keys, "folder": folder, **proc}


def get(home: dict[str, Any], path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {home['keys'][key]}"} if key else {}
    return httpx.get(home["base"] + path, headers=headers, timeout=10)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_projects_list_and_create(home: dict[str, Any]) -> None:
    listed = json.loads(lakebox_cli("projects", "list", "--home", str(home["folder"]), "-o", "json").stdout)
    assert [r["project"] for r in listed["rows"]] == ["lab", "shop"]
    again = lakebox_cli("projects", "create", "shop", "--home", str(home["folder"]))
    assert again.returncode != 0 and "exists" in again.stderr + again.stdout
    assert "Serving 2 project(s)" in home["stderr"].read_text()


def test_each_project_serves_its_own_box(home: dict[str, Any]) -> None:
    for name, age in (("shop", 20.0), ("lab", 1.0)):
        with lakebox.connect(home["base"], api_key=home["keys"][name], project=name) as remote:
            assert remote.get_feature_store().get_feature_view("ages", 1).get_feature_vector({"pid": 1}) == [age]
            frame = remote.get_feature_store().get_feature_group("players", 1).read()
            assert isinstance(frame, pd.DataFrame) and frame["age"].iloc[0] == age


def test_a_key_works_only_in_its_own_project(home: dict[str, Any]) -> None:
    assert get(home, "/api/v1/projects/shop/feature-groups", "shop").status_code == 200
    assert get(home, "/api/v1/projects/lab/feature-groups", "shop").status_code == 401
    with lakebox.connect(home["base"], api_key=home["keys"]["shop"], project="lab") as remote:
        with pytest.raises(AuthError):
            remote.get_feature_store().get_feature_view("ages", 1)


def test_project_listing_unknown_projects_and_the_root(home: dict[str, Any]) -> None:
    assert get(home, "/api/v1/projects", "lab").json() == [{"name": "lab", "url": "/api/v1/projects/lab"}]
    assert get(home, "/api/v1/projects", None).status_code == 401
    missing = get(home, "/api/v1/projects/nope/feature-groups", "shop")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert get(home, "/api/v1/feature-groups", "shop").status_code == 401  # the default project is lab
    assert get(home, "/api/v1/feature-groups", "lab").json()[0]["name"] == "players"
    with lakebox.connect(home["base"], api_key=home["keys"]["lab"]) as remote:  # the single-box form
        assert remote.get_feature_store().get_feature_view("ages", 1).get_feature_vector({"pid": 2}) == [2.0]
    assert get(home, "/health", None).json() == {"status": "ok"}
    paths = get(home, "/openapi.json", None).json()["paths"]
    assert "/api/v1/projects/{project}/feature-views/{name}/{version}/vector" in paths and "/health" in paths
    evil = httpx.get(home["base"] + "/api/v1/projects/shop/feature-groups", headers={"Host": "evil.example"}, timeout=10)
    assert evil.status_code == 400 and evil.json()["error"] == "invalid_host"
