"""``lakebox serve`` as a real process: keys made with ``lakebox apikey``, the remote client,
401 without a key, revocation on the next request, refusal of unsafe binds, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import lakebox
from lakebox.cli.serve import free_port
from lakebox.demo import build_demo_box, create_demo_view

START_TIMEOUT_S = 30.0


def lakebox_cli(*args: str | Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the real ``lakebox`` command (``python -m lakebox.cli``) and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "lakebox.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LAKEBOX_HOME"}
    env.update(NO_COLOR="1", COLUMNS="200", PYTHONUNBUFFERED="1")
    return env


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def stderr(self) -> str:
        return self.log.read_text()


def start_server(box: Path, tmp_path: Path, *args: str) -> Server:
    """``lakebox serve BOX --port FREE`` in a subprocess, once /health answers."""
    for _attempt in range(3):  # a free port can be taken between the check and the bind
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "lakebox.cli", "serve", str(box), "--port", str(port), *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
                env=_env(),
            )
        server = Server(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.05)
        stop(server)
        if "address already in use" not in server.stderr().lower():
            break
    raise AssertionError(f"lakebox serve did not start (exit {process.returncode}):\n{server.stderr()}")


def stop(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait(timeout=5)


@pytest.fixture(scope="module")
def served_box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo box with the attendance view and a training dataset (for its scaler)."""
    path = tmp_path_factory.mktemp("serving") / "serving.lakebox"
    with lakebox.connect(path) as project:
        built = build_demo_box(project, n_teams=4, n_players=20, n_games=40)
        create_demo_view(built).create_training_dataset(test_size=0.25, seed=1)
    return path


@pytest.fixture
def server(served_box: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(served_box, tmp_path)
    yield running
    stop(running)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_serve_with_a_key_from_the_cli(served_box: Path, server: Server) -> None:
    created = lakebox_cli("--box", served_box, "-o", "json", "apikey", "create", "app", "--scope", "read:online")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["scopes"] == ["read:online"] and "cannot be shown again" in key["warning"]
    secret = key["secret"]

    # what the server said before blocking, on stderr
    assert f"at {server.url} (Ctrl+C to stop)" in server.stderr()
    assert "apikey create" in server.stderr()

    with lakebox.connect(served_box) as project:
        local = project.get_feature_store().get_feature_view("attendance", 1)
        expected = [local.get_feature_vector({"game_id": g}) for g in (1, 40)]

    with lakebox.connect(server.url, api_key=secret) as remote:
        assert remote.health() == {"status": "ok"}
        view = remote.get_feature_store().get_feature_view("attendance", 1)
        assert [view.get_feature_vector({"game_id": g}) for g in (1, 40)] == expected
        assert view.get_feature_vectors([{"game_id": 1}, {"game_id": 40}]) == expected

        # no key: 401 with the one JSON error shape; /health needs none
        vector_url = f"{server.url}/api/v1/feature-views/attendance/1/vector"
        anonymous = httpx.post(vector_url, json={"entry": {"game_id": 1}}, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "auth_error" and "Authorization: Bearer" in anonymous.json()["message"]
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        wrong = httpx.post(vector_url, json={"entry": {"game_id": 1}}, headers={"Authorization": "Bearer lbk_x_y"})
        assert wrong.status_code == 401

        # revoked through the CLI (another process): refused from the next request on
        revoked = lakebox_cli("--box", served_box, "apikey", "revoke", "app")
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(lakebox.AuthError, match="revoked"):
            view.get_feature_vector({"game_id": 1})

    listed = lakebox_cli("--box", served_box, "-o", "json", "apikey", "list")
    assert secret.split("_", 2)[2] not in listed.stdout
    assert stop(server) == 0  # SIGTERM: uvicorn shuts down cleanly
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)


def test_serve_refuses_every_interface_without_keys(tmp_path: Path) -> None:
    box = tmp_path / "empty.lakebox"
    lakebox.connect(box).close()
    refused = lakebox_cli("serve", box, "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode != 0
    assert "Refusing to bind 0.0.0.0" in refused.stderr and "lakebox apikey create" in refused.stderr
    assert "Traceback" not in refused.stderr
